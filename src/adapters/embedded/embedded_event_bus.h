// File: embedded_event_bus.h
// The embedded event bus: the rules of one bus compiled into a RuleSet; put() matches each
// event and appends one delivery per (rule, target) to the durable queue of that target
// ("target-<name>", FIFO per member, dedup by event id + rule + target). The target delivery
// stage (stages/target_delivery.h) then delivers from those queues: webhooks, other buses,
// queues.
#pragma once

#include <memory>
#include <string_view>
#include <unordered_map>

#include "adapters/embedded/sqlite_queue.h"
#include "domain/event_pattern.h"
#include "domain/routing.h"
#include "ports/event_bus.h"

namespace memberflow::embedded {

std::string targetQueueName(const std::string& target);
std::string targetDlqName(const std::string& target);

// The body of one delivery on a target queue, written directly: {"eventId","rule","target",
// "payload"} with the payload's JSON spliced in, and for a bus target also "entry" (the
// forwarded entry: eventId, source, detailType, detail as a string, time, groupId). The same
// bytes as json::serialize of that object when payloadJson is json::serialize output.
std::string deliveryJson(const std::string& eventId, const std::string& rule,
                         const std::string& target, std::string_view payloadJson,
                         const BusEntry* forwarded);

class EmbeddedEventBus final : public EventBus {
 public:
  // InvalidArgument when a rule of this bus does not compile.
  static Result<std::unique_ptr<EmbeddedEventBus>> create(std::string name,
                                                          const RoutingConfig& cfg,
                                                          std::shared_ptr<SqliteQueueStore> queues);
  const std::string& name() const override { return name_; }
  Result<std::vector<Status>> put(const std::vector<BusEntry>& entries) override;

 private:
  EmbeddedEventBus(std::string name, const RoutingConfig& cfg, std::shared_ptr<SqliteQueueStore> q)
      : name_(std::move(name)), cfg_(cfg), queues_(std::move(q)) {}
  std::string name_;
  const RoutingConfig& cfg_;
  std::shared_ptr<SqliteQueueStore> queues_;
  RuleSet rules_;
  // A matched rule's config by its name (RuleSet::match answers names); a later rule of the
  // same name replaces an earlier one, as a scan for the last would find.
  std::unordered_map<std::string, const RuleConfig*> byName_;
};

}  // namespace memberflow::embedded
