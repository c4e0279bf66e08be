// File: eventbridge_bus.h
// EventBus on Amazon EventBridge: PutEvents in batches of 10 with per-entry results, and
// provisioning of buses, rules and targets from the same rules file the embedded bus reads
// (so one file works in both modes): queue, bus and webhook targets (the last as API
// destinations). Receivers deduplicate by the CloudEvent id inside `detail` (EventBridge
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

struct ProvisionOptions {
  // A queue's ARN by its full name, the queue created when absent (a ".fifo" name: FIFO with
  // content-based deduplication, since EventBridge sends no dedup id; otherwise standard).
  std::function<Result<std::string>(const std::string&)> queueArn;
  // A secret's value by name (the Secrets port): webhook auth header values.
  std::function<Result<std::string>(const std::string&)> secret;
  std::string namePrefix;             // of connections, API destinations and webhook DLQs
  std::string eventsRoleArn;          // the role EventBridge assumes to invoke API destinations
  int64_t invocationRateLimit = 300;  // per API destination, per second
};

// Creates the buses, rules and targets of the rules file. Idempotent (rules and targets are
// put, connections and destinations updated when they exist). A FIFO queue target gets a
// static MessageGroupId (EventBridge drops FIFO deliveries without one). A webhook target
// becomes an API destination: a connection carrying the target's auth header (API_KEY, value
// from the secret), a POST destination, the target's maxAttempts as the retry policy and a
// standard dead-letter queue "<prefix><target>-webhook-dlq". EventBridge fixes the timeout
// of API destinations at 5 s; the target's timeoutMs applies to the embedded bus only.
Status provisionEventBridge(AwsClient& client, const RoutingConfig& cfg, const ProvisionOptions& o);

}  // namespace memberflow::aws
