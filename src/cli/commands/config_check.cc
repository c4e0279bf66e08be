// `memberflow config check`: loads and checks the configuration.
#include <iostream>

#include "cli/commands.h"

namespace memberflow::cli {

int configCheckCommand(const Config& cfg) {
  auto problems = checkConfig(cfg);
  for (const auto& p : problems) std::cerr << "config: " << p << "\n";
  if (!problems.empty()) return 2;
  std::cout << "config ok: data in " << cfg.dataDir << ", API on " << cfg.apiListen << ":"
            << cfg.apiPort << ", " << cfg.partitions << " partitions\n";
  return 0;
}

}  // namespace memberflow::cli
