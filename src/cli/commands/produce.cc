// `memberflow produce`: JSONL records from a file or stdin, appended to the change source.
#include <fcntl.h>
#include <unistd.h>

#include <iostream>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/line_producer.h"
#include "cli/wiring.h"

namespace memberflow::cli {

int produceCommand(const Config& cfg, const std::optional<std::string>& file) {
  applyLogLevel(cfg);
  Wiring w(cfg);
  if (Status s = w.openSink(); !s.isOk()) return fail(s);
  LineProducer producer(w.sink());
  Status s;
  if (file && *file != "-") {
    int fd = ::open(file->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(Status::invalidArgument("cannot read " + *file));
    s = produceFd(producer, fd);
    ::close(fd);
  } else {
    s = produceFd(producer, STDIN_FILENO);
  }
  std::cerr << "produced " << producer.produced() << " records to " << cfg.topic << "\n";
  return s.isOk() ? 0 : fail(s);
}

}  // namespace memberflow::cli
