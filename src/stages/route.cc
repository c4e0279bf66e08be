#include "stages/route.h"

#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "domain/event_projection.h"

namespace memberflow {
namespace {
constexpr const char* kStage = "route";

// The CloudEvent fields this stage reads; the rest of a body is checked but not built.
const EventProjection& envelopeFields() {
  static const EventProjection fields = [] {
    EventProjection p;
    for (const char* name : {"id", "type", "source", "time"}) p.addField({name});
    return p;
  }();
  return fields;
}
}  // namespace

Result<size_t> RouteStage::process(const std::vector<ReceivedMessage>& batch) {
  if (batch.empty()) return size_t{0};
  std::vector<BusEntry> entries;
  std::vector<const ReceivedMessage*> sources;
  std::vector<OutgoingMessage> dead;
  std::vector<std::string> done;
  EventReader reader;  // only the envelope's strings are kept, copied out of it
  for (const auto& m : batch) {
    auto v = reader.read(envelopeFields(), m.body);
    const json::object* o = v.isOk() && (*v)->is_object() ? &(*v)->get_object() : nullptr;
    auto id = o ? stringField(*o, "id") : std::nullopt;
    auto type = o ? stringField(*o, "type") : std::nullopt;
    if (!id || !type) {
      dead.push_back({m.groupId,
                      m.dedupId + ":route-dlq:" + m.messageId,
                      m.body,
                      {{"reason", "not_a_member_event"}, {"stage", kStage}}});
      done.push_back(m.receiptHandle);
      continue;
    }
    entries.push_back({*id, stringField(*o, "source").value_or(""), *type, m.body,
                       stringField(*o, "time").value_or(""), m.groupId});
    sources.push_back(&m);
  }
  size_t routed = 0;
  if (!entries.empty()) {
    auto results = bus_.put(entries);
    if (!results.isOk()) return results.status();  // all stay in flight, come back later
    for (size_t i = 0; i < entries.size(); ++i) {
      if ((*results)[i].isOk()) {
        done.push_back(sources[i]->receiptHandle);
        ++routed;
      }
    }
  }
  if (!dead.empty()) MF_RETURN_IF_ERROR(dlq_.send(dead));
  if (!done.empty()) MF_RETURN_IF_ERROR(in_.remove(done));
  auto& m = Metrics::instance();
  m.records(kStage, "routed").Increment(static_cast<double>(routed));
  m.records(kStage, "dead_lettered").Increment(static_cast<double>(dead.size()));
  return routed;
}

void RouteStage::run(std::stop_token stop) {
  log::info("stage started", {kStage});
  // The queue and the bus fail apart: an empty receive while the bus is down (its messages
  // in flight until their visibility timeout) does not reset the bus's backoff.
  BackoffPolicy policy = withoutAttemptLimit(opts_.backoff);
  Retry receiving(policy, clock_, stop, std::nullopt, opts_.jitterSeed);
  Retry routing(policy, clock_, stop, std::nullopt, opts_.jitterSeed);
  while (!stop.stop_requested()) {
    auto batch = in_.receive(opts_.maxBatch, opts_.visibilityMs, opts_.waitMs);
    Status s = batch.status();
    Retry* retry = &receiving;
    if (s.isOk()) {
      receiving.reset();
      if (batch->empty()) continue;
      s = process(*batch).status();
      retry = &routing;
    }
    if (s.isOk()) {
      routing.reset();
      continue;
    }
    log::warn("route batch failed, will retry", {kStage, {}, {}, {}, "retry", s.toString()});
    if (!retry->backoff()) break;
  }
  log::info("stage stopped", {kStage});
}

}  // namespace memberflow
