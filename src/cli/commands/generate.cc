// `memberflow generate`: synthetic raw messages as JSONL (the generator is generator.cc).
#include <fstream>
#include <iostream>

#include "cli/command_support.h"
#include "cli/commands.h"

namespace memberflow::cli {

int generateCommand(const GeneratorOptions& opts, const std::optional<std::string>& out) {
  std::ofstream file;
  if (out) {
    file.open(*out);
    if (!file) return fail(Status::invalidArgument("cannot write " + *out));
  }
  std::ostream& os = out ? file : std::cout;
  generateRecords(opts, [&](std::string line) { os << line << '\n'; });
  os.flush();
  return os ? 0 : 1;
}

}  // namespace memberflow::cli
