// File: eventbridge_bus.h
// EventBus on Amazon EventBridge: PutEvents in batches of 10 with per-entry results, and
// provisioning of buses, rules and targets from the same rules file the embedded bus reads
// (so one file works in both modes). Queue and bus targets are provisioned; webhook targets
// need EventBridge API destinations and connections, which are not built yet (refused with a
// clear error). Receivers deduplicate by the CloudEvent id inside `detail` (EventBridge
// assigns its own envelope id).
#pragma once

#include <functional>
#include <map>
#include <memory>

#include "adapters/aws/aws_client.h"
#include "domain/routing.h"
#include "ports/event_bus.h"

namespace memberflow::aws {

class EventBridgeBus final : public EventBus {
 public:
  EventBridgeBus(AwsClient& client, std::string name) : client_(client), name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  Result<std::vector<Status>> put(const std::vector<BusEntry>& entries) override;

 private:
  AwsClient& client_;
  std::string name_;
};

// Creates the buses, rules and targets of the rules file. queueArn resolves a queue target's
// name to its ARN. Idempotent (rules and targets are put, not added). A FIFO queue target gets
// a static MessageGroupId and must have content-based deduplication on: EventBridge sends no
// dedup id, and SQS (and moto) drop its deliveries otherwise.
Status provisionEventBridge(AwsClient& client, const RoutingConfig& cfg,
                            const std::function<Result<std::string>(const std::string&)>& queueArn);

}  // namespace memberflow::aws
