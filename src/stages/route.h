// File: route.h
// The route stage (DESIGN.md §1): reads the route queue (a subscription of the member-events
// topic) and puts each CloudEvent on the event bus (Source = source, DetailType = type,
// Detail = the whole CloudEvent). SNS cannot deliver to EventBridge, hence this hop.
#pragma once

#include <stop_token>

#include "ports/event_bus.h"
#include "ports/queue.h"

namespace memberflow {

struct RouteOptions {
  size_t maxBatch = 100;
  int64_t visibilityMs = 30000;
  int64_t waitMs = 200;
};

class RouteStage {
 public:
  RouteStage(Queue& in, Queue& dlq, EventBus& bus, RouteOptions opts)
      : in_(in), dlq_(dlq), bus_(bus), opts_(opts) {}
  // Puts the events of a batch; deletes accepted and poison messages (poison to the DLQ).
  Result<size_t> process(const std::vector<ReceivedMessage>& batch);
  void run(std::stop_token stop);

 private:
  Queue& in_;
  Queue& dlq_;
  EventBus& bus_;
  RouteOptions opts_;
};

}  // namespace memberflow
