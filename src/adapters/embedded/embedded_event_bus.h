// File: embedded_event_bus.h
// The embedded event bus: the rules of one bus compiled into a RuleSet; put() matches each
// event and appends one delivery per (rule, target) to the durable queue of that target
// ("target-<name>", FIFO per member, dedup by event id + rule + target). TargetDelivery then
// delivers from those queues: webhooks, other buses, queues.
#pragma once

#include <functional>
#include <memory>
#include <random>
#include <stop_token>

#include "adapters/embedded/sqlite_queue.h"
#include "domain/event_pattern.h"
#include "domain/routing.h"
#include "ports/event_bus.h"
#include "ports/http_client.h"
#include "ports/secrets.h"
#include "common/backoff.h"

namespace memberflow::embedded {

std::string targetQueueName(const std::string& target);
std::string targetDlqName(const std::string& target);

class EmbeddedEventBus final : public EventBus {
 public:
  // InvalidArgument when a rule of this bus does not compile.
  static Result<std::unique_ptr<EmbeddedEventBus>> create(std::string name, const RoutingConfig& cfg,
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
  std::vector<const RuleConfig*> byName_;  // rule index -> config, in RuleSet order
};

// Delivers one target's queue. Per-member order: a failed delivery holds back that member's
// later deliveries. Transient failures retry with backoff; after maxAttempts deliveries, or
// at once for a webhook 4xx other than 408/429, the delivery goes to the target's DLQ.
class TargetDelivery {
 public:
  using BusLookup = std::function<EventBus*(const std::string&)>;
  using QueueLookup = std::function<Queue*(const std::string&)>;
  TargetDelivery(const TargetConfig& target, Queue& in, Queue& dlq, HttpClient& http,
                 Secrets& secrets, BusLookup buses, QueueLookup queues, BackoffPolicy backoff,
                 int64_t visibilityMs = 30000)
      : target_(target), in_(in), dlq_(dlq), http_(http), secrets_(secrets),
        buses_(std::move(buses)), queues_(std::move(queues)), backoff_(backoff),
        visibilityMs_(std::max<int64_t>(visibilityMs, target.timeoutMs * 2)) {}

  const std::string& name() const { return target_.name; }
  // Receives and delivers one batch; returns how many were delivered.
  Result<size_t> processOnce(int64_t waitMs);
  void run(std::stop_token stop);

 private:
  enum class Outcome { kDone, kRetry, kDead };
  Outcome deliver(const ReceivedMessage& m, std::string& reason);

  const TargetConfig& target_;
  Queue& in_;
  Queue& dlq_;
  HttpClient& http_;
  Secrets& secrets_;
  BusLookup buses_;
  QueueLookup queues_;
  BackoffPolicy backoff_;
  int64_t visibilityMs_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace memberflow::embedded
