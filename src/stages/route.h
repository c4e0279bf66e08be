// File: route.h
// The route stage (DESIGN.md §1): reads the route queue (a subscription of the member-events
// topic) and puts each CloudEvent on the event bus (Source = source, DetailType = type,
// Detail = the whole CloudEvent). SNS cannot deliver to EventBridge, hence this hop.
#pragma once

#include <stop_token>

#include "ports/clock.h"
#include "ports/event_bus.h"
#include "ports/queue.h"
#include "ports/retry.h"

namespace memberflow {

struct RouteOptions {
  size_t maxBatch = 100;
  int64_t visibilityMs = 30000;
  int64_t waitMs = 200;
  BackoffPolicy backoff{100, 5000, 0};  // after a failed batch; no attempt limit in run()
  uint64_t jitterSeed = 0;              // 0: random (tests fix it)
};

class RouteStage {
 public:
  RouteStage(Queue& in, Queue& dlq, EventBus& bus, const Clock& clock, RouteOptions opts)
      : in_(in), dlq_(dlq), bus_(bus), clock_(clock), opts_(opts) {}
  // Puts the events of a batch; deletes accepted and poison messages (poison to the DLQ).
  // Messages whose entry the bus did not accept stay in flight and come back after their
  // visibility timeout. Unavailable: the bus or the queue failed; nothing was lost.
  Result<size_t> process(const std::vector<ReceivedMessage>& batch);
  // Receives and processes until stop is requested; backs off (Retry, on the clock) after a
  // failed receive or batch — the queue's and the bus's failures counted apart — a stop
  // ending the backoff at once. An empty receive is no failure: the queue's receive wait
  // paces it.
  void run(std::stop_token stop);

 private:
  Queue& in_;
  Queue& dlq_;
  EventBus& bus_;
  const Clock& clock_;
  RouteOptions opts_;
};

}  // namespace memberflow
