// bench_pattern_peer: memberflow's side of bench/peer_event_ruler (event-ruler's side is
// bench/event_ruler/Harness.java, which reads the same files and prints the same lines).
//
//   bench_pattern_peer write DIR [--events N]
//     writes the workload of bench_patterns (bench/pattern_workload.h) as files both matchers
//     read: DIR/citylots2.ndjson (N generated citylots2 documents, default 50,000),
//     DIR/members.ndjson (N generated member events), DIR/citylots2-edge.ndjson (agreement only:
//     the corpus's citylots samples and generated documents with the fields the rules test set
//     to null, booleans, numbers, arrays or removed), DIR/rules/<group>.ndjson (one pattern a
//     line, rule i named r<i>: the citylots2 groups of the corpora, MEMBERS_1, MEMBERS_100,
//     MEMBERS_10000) and DIR/groups.tsv (group, rules file, events file).
//
//   bench_pattern_peer match RULES EVENTS COUNTS [--runs R] [--min-seconds S]
//     loads the rules into one RuleSet, reads the events as text (one a line), and per event
//     calls RuleSet::matchText, as the event bus matches: the text is checked whole and read
//     keeping only the fields the rules name (EventReader, domain/event_projection.h). The first
//     pass is the warm-up and writes each event's match count to COUNTS (one a line); then R
//     timed runs, each as many passes over the events as last S seconds (default 3 runs of
//     1 s). Prints `runs <events/s> ...` and `median <events/s>`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "common/json.h"
#include "domain/event_pattern.h"
#include "pattern_workload.h"

namespace fs = std::filesystem;
using namespace memberflow;

namespace {

[[noreturn]] void die(const std::string& msg) {
  std::cerr << "bench_pattern_peer: " << msg << "\n";
  std::exit(1);
}

void writeLines(const fs::path& p, const std::vector<json::value>& values) {
  std::ofstream out(p);
  if (!out) die("cannot write " + p.string());
  for (const auto& v : values) out << json::serialize(v) << "\n";
}

std::vector<std::string> readLines(const fs::path& p) {
  std::ifstream in(p);
  if (!in) die("cannot read " + p.string());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(std::move(line));
  }
  return lines;
}

json::value loadJson(const fs::path& p) {
  std::ifstream in(p);
  if (!in) die("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

// Documents that exercise what the generated ones never hold: every field a citylots2 rule
// tests set, in turn, to null, booleans, numbers, a string rules single out, arrays (with a
// null, a number, strings), an object, or removed; on the corpus's citylots samples (the
// original citylots shape) and on a few generated documents.
std::vector<json::value> edgeLots() {
  std::vector<json::value> bases;
  for (int i = 0; i < 3; ++i) {
    fs::path p = bench::corporaDir() / "citylots-format-samples-from-quamina" /
                 ("cl-sample-" + std::to_string(i) + ".json");
    if (fs::exists(p)) bases.push_back(loadJson(p));
  }
  for (auto& v : bench::cityLots(8)) bases.push_back(std::move(v));
  const std::vector<json::value> replacements = {nullptr,
                                                 true,
                                                 false,
                                                 0,
                                                 441,
                                                 -122.42916360922355,
                                                 1.5e300,
                                                 "",
                                                 "441",
                                                 "st",
                                                 "ST",
                                                 "Polygon",
                                                 "MultiPolygon",
                                                 "FULTON",
                                                 "fulton",
                                                 "1430022",
                                                 "VACSTWIL",
                                                 json::array{nullptr},
                                                 json::array{},
                                                 json::array{"ST", nullptr},
                                                 json::array{"AVE", 7},
                                                 json::array{"FULTON", "MASON"},
                                                 json::object{{"x", 1}}};
  struct Field {
    const char* parent;
    const char* name;
  };
  const Field fields[] = {{"properties", "STREET"},  {"properties", "ST_TYPE"},
                          {"properties", "FROM_ST"}, {"properties", "MAPBLKLOT"},
                          {"geometry", "type"},      {"geometry", "firstCoordinates"}};
  std::vector<json::value> out;
  for (const auto& base : bases) {
    out.push_back(base);
    for (const auto& f : fields) {
      for (const auto& r : replacements) {
        json::value v = base;
        v.as_object()[f.parent].as_object()[f.name] = r;
        out.push_back(std::move(v));
      }
      json::value removed = base;
      removed.as_object()[f.parent].as_object().erase(f.name);
      out.push_back(std::move(removed));
    }
    // Coordinates' numbers set to null, strings and booleans (the COMPLEX_ARRAYS rules).
    for (const auto& r : {json::value(nullptr), json::value("x"), json::value(true)}) {
      json::value v = base;
      auto& geo = v.as_object()["geometry"].as_object();
      if (geo["firstCoordinates"].is_object()) geo["firstCoordinates"].as_object()["x"] = r;
      if (geo["coordinates"].is_array() && !geo["coordinates"].as_array().empty() &&
          geo["coordinates"].as_array()[0].is_object())
        geo["coordinates"].as_array()[0].as_object()["x"] = r;
      out.push_back(std::move(v));
    }
  }
  return out;
}

int write(const fs::path& dir, size_t n) {
  std::string corpus = bench::citylots2Corpus();
  if (corpus.empty()) die("no citylots2 corpus under " + bench::corporaDir().string());
  fs::create_directories(dir / "rules");
  writeLines(dir / "citylots2.ndjson", bench::cityLots(n));
  writeLines(dir / "members.ndjson", bench::memberEvents(n));
  writeLines(dir / "citylots2-edge.ndjson", edgeLots());
  std::ofstream groups(dir / "groups.tsv");
  auto doc = json::parse(corpus);
  for (const auto& g : doc.at("cl2_benchmark_groups").as_array()) {
    std::string name(g.at("group").as_string());
    std::vector<json::value> rules;
    for (const auto& p : g.at("patterns").as_array()) rules.push_back(p.at("pattern"));
    writeLines(dir / "rules" / (name + ".ndjson"), rules);
    groups << name << "\trules/" << name << ".ndjson\tcitylots2.ndjson\n";
  }
  for (size_t count : {size_t{1}, size_t{100}, size_t{10000}}) {
    std::string name = "MEMBERS_" + std::to_string(count);
    std::vector<json::value> rules;
    for (size_t i = 0; i < count; ++i) rules.push_back(bench::memberRule(i));
    writeLines(dir / "rules" / (name + ".ndjson"), rules);
    groups << name << "\trules/" << name << ".ndjson\tmembers.ndjson\n";
  }
  return 0;
}

int match(const fs::path& rulesFile, const fs::path& eventsFile, const fs::path& countsFile,
          int runs, double minSeconds) {
  RuleSet rules;
  auto ruleLines = readLines(rulesFile);
  for (size_t i = 0; i < ruleLines.size(); ++i) {
    auto st = rules.add("r" + std::to_string(i), json::parse(ruleLines[i]));
    if (!st.isOk()) die("rule " + std::to_string(i) + " of " + rulesFile.string() + " refused");
  }
  auto events = readLines(eventsFile);
  if (events.empty()) die("no events in " + eventsFile.string());

  size_t sink = 0;
  EventReader reader;  // as the embedded bus reads an entry's detail to match it
  auto pass = [&](std::vector<uint32_t>* counts) {
    for (size_t i = 0; i < events.size(); ++i) {
      auto matched = rules.matchText(events[i], reader);
      if (!matched.isOk()) die("event " + std::to_string(i) + " is not JSON");
      size_t n = matched->size();
      sink += n;
      if (counts) (*counts)[i] = static_cast<uint32_t>(n);
    }
  };

  std::vector<uint32_t> counts(events.size());
  pass(&counts);  // warm-up, and the counts
  {
    std::ofstream out(countsFile);
    if (!out) die("cannot write " + countsFile.string());
    for (auto c : counts) out << c << "\n";
  }

  using clock = std::chrono::steady_clock;
  std::vector<double> rates;
  for (int r = 0; r < runs; ++r) {
    size_t done = 0;
    auto t0 = clock::now();
    double elapsed = 0;
    do {
      pass(nullptr);
      done += events.size();
      elapsed = std::chrono::duration<double>(clock::now() - t0).count();
    } while (elapsed < minSeconds);
    rates.push_back(static_cast<double>(done) / elapsed);
  }
  std::printf("runs");
  for (double r : rates) std::printf(" %.0f", r);
  std::sort(rates.begin(), rates.end());
  std::printf("\nmedian %.0f\n", rates.empty() ? 0.0 : rates[rates.size() / 2]);
  std::fprintf(stderr, "(matches: %zu)\n", sink);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto usage = [] {
    die("usage: bench_pattern_peer write DIR [--events N] | match RULES EVENTS COUNTS "
        "[--runs R] [--min-seconds S]");
  };
  if (args.empty()) usage();
  std::vector<std::string> pos;
  size_t events = 50000;
  int runs = 3;
  double minSeconds = 1.0;
  for (size_t i = 1; i < args.size(); ++i) {
    auto next = [&]() -> std::string {
      if (i + 1 >= args.size()) usage();
      return args[++i];
    };
    if (args[i] == "--events")
      events = std::stoul(next());
    else if (args[i] == "--runs")
      runs = std::stoi(next());
    else if (args[i] == "--min-seconds")
      minSeconds = std::stod(next());
    else
      pos.push_back(args[i]);
  }
  if (args[0] == "write" && pos.size() == 1) return write(pos[0], events);
  if (args[0] == "match" && pos.size() == 3) return match(pos[0], pos[1], pos[2], runs, minSeconds);
  usage();
}
