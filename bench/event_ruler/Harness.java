// event-ruler's side of bench/peer_event_ruler (memberflow's side: bench/pattern_peer.cc, which
// reads the same files and prints the same lines).
//
//   java -cp <event-ruler classpath>:<classes> Harness RULES EVENTS COUNTS [--runs R]
//        [--min-seconds S] [--warmup-seconds W]
//
// Loads the rules (one pattern a line, rule i named r<i>) into one Machine and reads the events
// as text (one a line). Per event: Machine.rulesForJSONEvent(text), which parses the JSON and
// matches (array-consistent, as memberflow's RuleSet). The first pass writes each event's match
// count to COUNTS (one a line); then passes for at least W seconds of JIT warm-up (default 5);
// then R timed runs (default 3), each as many passes over the events as last S seconds
// (default 1). Prints `runs <events/s> ...` and `median <events/s>`.
import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import software.amazon.event.ruler.Machine;

public final class Harness {
  private static long sink;

  public static void main(String[] args) throws Exception {
    List<String> pos = new ArrayList<>();
    int runs = 3;
    double minSeconds = 1.0;
    double warmupSeconds = 5.0;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--runs": runs = Integer.parseInt(args[++i]); break;
        case "--min-seconds": minSeconds = Double.parseDouble(args[++i]); break;
        case "--warmup-seconds": warmupSeconds = Double.parseDouble(args[++i]); break;
        default: pos.add(args[i]);
      }
    }
    if (pos.size() != 3) {
      System.err.println("usage: Harness RULES EVENTS COUNTS [--runs R] [--min-seconds S] "
          + "[--warmup-seconds W]");
      System.exit(2);
    }
    Machine machine = Machine.builder().build();
    List<String> rules = lines(Path.of(pos.get(0)));
    for (int i = 0; i < rules.size(); i++) machine.addRule("r" + i, rules.get(i));
    String[] events = lines(Path.of(pos.get(1))).toArray(new String[0]);
    if (events.length == 0) throw new IllegalArgumentException("no events in " + pos.get(1));

    int[] counts = new int[events.length];
    pass(machine, events, counts);
    try (BufferedWriter out = Files.newBufferedWriter(Path.of(pos.get(2)), StandardCharsets.UTF_8)) {
      for (int c : counts) {
        out.write(Integer.toString(c));
        out.write('\n');
      }
    }

    long warmupEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
    while (System.nanoTime() < warmupEnd) pass(machine, events, null);

    double[] rates = new double[runs];
    StringBuilder line = new StringBuilder("runs");
    for (int r = 0; r < runs; r++) {
      long done = 0;
      long t0 = System.nanoTime();
      double elapsed;
      do {
        pass(machine, events, null);
        done += events.length;
        elapsed = (System.nanoTime() - t0) / 1e9;
      } while (elapsed < minSeconds);
      rates[r] = done / elapsed;
      line.append(' ').append(Math.round(rates[r]));
    }
    System.out.println(line);
    Arrays.sort(rates);
    System.out.println("median " + (runs == 0 ? 0 : Math.round(rates[runs / 2])));
    System.err.println("(matches: " + sink + ")");
  }

  private static void pass(Machine machine, String[] events, int[] counts) throws Exception {
    for (int i = 0; i < events.length; i++) {
      int n = machine.rulesForJSONEvent(events[i]).size();
      sink += n;
      if (counts != null) counts[i] = n;
    }
  }

  private static List<String> lines(Path p) throws Exception {
    List<String> out = new ArrayList<>();
    for (String l : Files.readAllLines(p, StandardCharsets.UTF_8)) {
      if (!l.isEmpty()) out.add(l);
    }
    return out;
  }
}
