#include "ops/pipeline_status.h"

namespace memberflow::ops {

Result<json::object> pipelineStatus(OperatorPorts& ports) {
  json::object out;
  auto source = ports.source();
  if (!source.isOk()) return source.status();
  auto progress = (*source)->progress();
  if (!progress.isOk()) return progress.status();
  out["source"] =
      json::object{{"topic", ports.topic()}, {"records", progress->end}, {"lag", progress->lag()}};
  auto queues = ports.allQueues();
  if (!queues.isOk()) return queues.status();
  json::object qs;
  for (Queue* q : *queues) {
    auto s = q->stats();
    if (!s.isOk()) return s.status();
    qs[q->name()] = json::object{{"visible", s->visible}, {"inFlight", s->inFlight}};
  }
  out["queues"] = std::move(qs);
  if (auto parking = ports.parking(); parking.isOk()) {
    auto parked = (*parking)->list(100000);
    if (!parked.isOk()) return parked.status();
    int64_t held = 0;
    for (const auto& p : *parked) held += p.held;
    out["parked"] = json::object{{"members", static_cast<int64_t>(parked->size())}, {"held", held}};
  }
  if (auto members = ports.members(); members.isOk()) {
    auto ob = (*members)->outboxCount();
    if (ob.isOk()) out["outbox"] = *ob;
  }
  return out;
}

}  // namespace memberflow::ops
