// `memberflow status`: source lag, queue depths and the outbox, as JSON.
#include <iostream>

#include "adapters/embedded/embedded_event_bus.h"
#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/wiring.h"
#include "common/json.h"
#include "common/text.h"

namespace memberflow::cli {

int statusCommand(const Config& cfg) {
  Wiring w(cfg);
  if (Status s = w.openSource(/*observe=*/true); !s.isOk()) return fail(s);
  if (Status s = w.openQueues(); !s.isOk()) return fail(s);
  json::object out;
  auto progress = w.source().progress();
  if (!progress.isOk()) return fail(progress.status());
  out["source"] =
      json::object{{"topic", cfg.topic}, {"records", progress->end}, {"lag", progress->lag()}};
  json::object queues;
  if (Status s = w.openRouting(); !s.isOk()) return fail(s);
  std::vector<Queue*> all{&w.changes(),  &w.changesDlq(), &w.ingestDlq(), &w.routeQueue(),
                          &w.routeDlq(), &w.lakeQueue(),  &w.lakeDlq()};
  for (const auto& t : w.deliveredTargets()) {
    all.push_back(w.queueNamed(embedded::targetQueueName(t.name)));
    all.push_back(w.queueNamed(embedded::targetDlqName(t.name)));
  }
  for (const auto& q : splitList(cfg.topicExtraSubscriptions)) all.push_back(w.queueNamed(q));
  for (Queue* q : all) {
    if (!q) return fail(Status::unavailable("a queue cannot be opened"));
    auto s = q->stats();
    if (!s.isOk()) return fail(s.status());
    queues[q->name()] = json::object{{"visible", s->visible}, {"inFlight", s->inFlight}};
  }
  out["queues"] = std::move(queues);
  if (Status s = w.openParking(); s.isOk()) {
    auto parked = w.parking().list(100000);
    if (!parked.isOk()) return fail(parked.status());
    int64_t held = 0;
    for (const auto& p : *parked) held += p.held;
    out["parked"] = json::object{{"members", static_cast<int64_t>(parked->size())}, {"held", held}};
  }
  if (Status s = w.openMembers(); s.isOk()) {
    auto ob = w.members().outboxCount();
    if (ob.isOk()) out["outbox"] = *ob;
  }
  std::cout << json::serialize(out) << "\n";
  return 0;
}

}  // namespace memberflow::cli
