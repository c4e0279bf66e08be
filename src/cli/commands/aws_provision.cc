// `memberflow aws provision`: the EventBridge buses, rules and targets of the rules file.
#include <iostream>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/wiring.h"
#include "common/json.h"

namespace memberflow::cli {

int awsProvisionCommand(const Config& cfg) {
  applyLogLevel(cfg);
  if (cfg.rulesFile.empty())
    return fail(Status::invalidArgument("bus.rules_file is not set: nothing to provision"));
  Wiring w(cfg);
  auto provisioned = w.provisionEventBridge();
  if (!provisioned.isOk()) return fail(provisioned.status());
  std::cout << json::serialize(json::object{{"rules", static_cast<int64_t>(provisioned->rules)},
                                            {"queues", static_cast<int64_t>(provisioned->queues)}})
            << "\n";
  return 0;
}

}  // namespace memberflow::cli
