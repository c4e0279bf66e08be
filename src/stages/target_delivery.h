// File: target_delivery.h
// The target delivery stage of the embedded event bus (DESIGN.md §1, "rules ─▶ targets"): the
// embedded bus (adapters/embedded/embedded_event_bus.h) appends one delivery per matched
// (rule, target) to that target's durable queue; one TargetDelivery per target consumes the
// queue and delivers: POST to a webhook, put on another bus, send to a queue. The members of a
// received batch are delivered concurrently, up to `concurrency` at a time; each member's
// deliveries go one after another in queue order, and a failed one holds back that member's
// later deliveries (per-member order). Transient failures come back after a jittered delay;
// after the target's maxAttempts deliveries, or at once for a webhook 4xx other than 408/429,
// the delivery goes to the target's DLQ. With a DeliveryLog, the successful deliveries of a
// batch are recorded there before they leave the queue (reconcile's proof of delivery).
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <random>
#include <stop_token>
#include <string>

#include "domain/routing.h"
#include "ports/clock.h"
#include "ports/delivery_log.h"
#include "ports/event_bus.h"
#include "ports/http_client.h"
#include "ports/queue.h"
#include "ports/retry.h"
#include "ports/secrets.h"

namespace memberflow {

struct TargetDeliveryOptions {
  // The delay before a failed delivery comes back (full jitter of its receive count); the
  // loop backs off with the same delays, without an attempt limit, after a failed batch. The
  // attempt limit of a delivery is the target's maxAttempts.
  BackoffPolicy backoff{200, 20000, 0};
  int64_t visibilityMs = 30000;  // at least twice the target's timeout
  int64_t waitMs = 100;          // receive wait
  size_t maxBatch = 100;
  // Members delivered at once within a batch (threads, the loop's own among them), so a webhook
  // sees up to this many requests (connections) at once; 1: one delivery at a time. Only the
  // thread-safe ports are called concurrently (HttpClient, EventBus, Queue); the secret and
  // the bus and queue lookups are done once per batch on the loop's thread.
  int concurrency = 8;
  uint64_t jitterSeed = 0;  // 0: random (tests fix it)
};

class TargetDelivery {
 public:
  using BusLookup = std::function<EventBus*(const std::string&)>;
  using QueueLookup = std::function<Queue*(const std::string&)>;
  // deliveries: where the batch's successful deliveries are recorded; null: nowhere.
  TargetDelivery(const TargetConfig& target, Queue& in, Queue& dlq, HttpClient& http,
                 Secrets& secrets, BusLookup buses, QueueLookup queues, const Clock& clock,
                 TargetDeliveryOptions opts, DeliveryLog* deliveries = nullptr)
      : target_(target),
        in_(in),
        dlq_(dlq),
        http_(http),
        secrets_(secrets),
        buses_(std::move(buses)),
        queues_(std::move(queues)),
        clock_(clock),
        deliveries_(deliveries),
        opts_(opts),
        visibilityMs_(std::max<int64_t>(opts.visibilityMs, target.timeoutMs * 2)),
        rng_(opts.jitterSeed != 0 ? opts.jitterSeed : std::random_device{}()) {}

  const std::string& name() const { return target_.name; }
  // Receives and delivers one batch; returns how many were delivered. Once every member is
  // done, the batch's successful deliveries are recorded in one DeliveryLog::record(), its
  // dead letters go as one send() and its deletes as one remove(), in that order: a message
  // leaves the queue only once its record (or DLQ copy) is durable. Unavailable (or the
  // error of the delivery log): the target's queue, DLQ or delivery log failed (the batch
  // comes back after its visibility timeout, and is delivered and recorded again).
  Result<size_t> processOnce(int64_t waitMs);
  // Delivers until stop is requested; backs off (Retry, on the clock) after a failed batch, a
  // stop ending the backoff at once. An empty receive is no failure: the receive wait paces it.
  void run(std::stop_token stop);

 private:
  enum class Outcome {
    kHeld,  // not tried: behind an earlier delivery of its member that is retried
    kDone,
    kRetry,
    kDead,
  };
  // What every delivery of a batch needs from elsewhere, looked up once per batch on the loop's
  // thread: the bus and queue lookups make no promise about threads, and the secret is the
  // same for the whole batch.
  struct BatchContext {
    EventBus* bus = nullptr;  // a bus target's bus; null: unknown
    Queue* queue = nullptr;   // a queue target's queue; null: unknown
    // A webhook's auth header value; nullopt: the secret was unavailable (deliveries retried).
    std::optional<std::string> authValue;
  };
  BatchContext batchContext();
  // One delivery. Safe to call concurrently for different messages.
  // Fills `rec` with the delivery's ids (event id, member, rule) when its body has them.
  Outcome deliver(const ReceivedMessage& m, const BatchContext& ctx, std::string& reason,
                  DeliveryRecord& rec);

  const TargetConfig& target_;
  Queue& in_;
  Queue& dlq_;
  HttpClient& http_;
  Secrets& secrets_;
  BusLookup buses_;
  QueueLookup queues_;
  const Clock& clock_;
  DeliveryLog* deliveries_;  // null: deliveries are not recorded
  TargetDeliveryOptions opts_;
  int64_t visibilityMs_;
  std::mt19937_64 rng_;  // the per-delivery delays of processOnce(), drawn on the loop's thread
};

}  // namespace memberflow
