// `memberflow run` and `memberflow api`.
#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/signals.h"
#include "cli/wiring.h"

namespace memberflow::cli {

int runCommand(const Config& cfg, const RunOptions& opts) {
  applyLogLevel(cfg);
  installSignals();
  Wiring w(cfg);
  return runStages(w, opts);
}

int apiCommand(const Config& cfg) {
  RunOptions o;
  o.stages = {"api"};
  return runCommand(cfg, o);
}

}  // namespace memberflow::cli
