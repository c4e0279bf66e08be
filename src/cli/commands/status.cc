// `memberflow status`: source lag, queue depths and the outbox, as JSON (ops/pipeline_status.h,
// which the console's /console/api/status serves too).
#include <iostream>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/operator_wiring.h"
#include "common/json.h"
#include "ops/pipeline_status.h"

namespace memberflow::cli {

int statusCommand(const Config& cfg) {
  WiringOperatorPorts ports(cfg);
  auto out = ops::pipelineStatus(ports);
  if (!out.isOk()) return fail(out.status());
  std::cout << json::serialize(*out) << "\n";
  return 0;
}

}  // namespace memberflow::cli
