// File: pipeline_status.h
// The pipeline's state as `memberflow status` prints it and the console's /console/api/status
// serves it: the source's records and lag, every queue's depth, parked members, the outbox.
#pragma once

#include "common/json.h"
#include "common/status.h"
#include "ops/operator_ports.h"

namespace memberflow::ops {

// {"source":{"topic","records","lag"},"queues":{name:{"visible","inFlight"}},
//  "parked":{"members","held"} (when the parking store opens), "outbox" (when the member store
//  opens)}.
Result<json::object> pipelineStatus(OperatorPorts& ports);

}  // namespace memberflow::ops
