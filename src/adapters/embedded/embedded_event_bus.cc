#include "adapters/embedded/embedded_event_bus.h"

#include <map>

#include "common/metrics.h"

namespace memberflow::embedded {

std::string targetQueueName(const std::string& target) { return "target-" + target; }
std::string targetDlqName(const std::string& target) { return "target-" + target + "-dlq"; }

Result<std::unique_ptr<EmbeddedEventBus>> EmbeddedEventBus::create(
    std::string name, const RoutingConfig& cfg, std::shared_ptr<SqliteQueueStore> queues) {
  std::unique_ptr<EmbeddedEventBus> bus(
      new EmbeddedEventBus(std::move(name), cfg, std::move(queues)));
  for (const auto& r : cfg.rules) {
    if (r.bus != bus->name_) continue;
    MF_RETURN_IF_ERROR(bus->rules_.add(r.name, r.pattern));
    bus->byName_.push_back(&r);
  }
  return bus;
}

Result<std::vector<Status>> EmbeddedEventBus::put(const std::vector<BusEntry>& entries) {
  std::map<std::string, std::vector<OutgoingMessage>> perTarget;
  EventReader reader;  // one per call: put() may run on several threads at once
  for (const auto& e : entries) {
    // Matched on what the rules look at; the whole event is built for a rule that matched.
    std::vector<std::string> matched = matchingRules(rules_, e, name_, reader);
    if (matched.empty()) continue;
    json::value ev(busEnvelope(e, name_));
    for (const auto& ruleName : matched) {
      const RuleConfig* rule = nullptr;
      for (const auto* r : byName_) {
        if (r->name == ruleName) rule = r;
      }
      json::value payload = ev;
      if (!rule->inputPath.empty()) {
        auto sel = selectPath(ev, rule->inputPath);
        payload = sel.isOk() ? *sel : json::value(nullptr);
      }
      for (const auto& t : rule->targets) {
        json::object delivery{
            {"eventId", e.eventId}, {"rule", rule->name}, {"target", t}, {"payload", payload}};
        // A bus target forwards the event itself, not the selection.
        if (cfg_.target(t)->kind == TargetConfig::Kind::kBus) {
          delivery["entry"] = json::object{
              {"eventId", e.eventId}, {"source", e.source}, {"detailType", e.detailType},
              {"detail", e.detail},   {"time", e.time},     {"groupId", e.groupId}};
        }
        perTarget[t].push_back({e.groupId,
                                e.eventId + "/" + rule->name + "/" + t,
                                json::serialize(delivery),
                                {{"eventId", e.eventId}}});
      }
    }
  }
  std::vector<Status> out(entries.size());
  for (const auto& [t, msgs] : perTarget) {
    Status s = queues_->sendToAll({targetQueueName(t)}, msgs, 5 * 60 * 1000);
    // All-or-nothing per call: report the failure on every entry so the caller puts the
    // batch again (the dedup ids make the repeat harmless).
    if (!s.isOk()) return std::vector<Status>(entries.size(), s);
  }
  Metrics::instance().records("bus", "in").Increment(static_cast<double>(entries.size()));
  return out;
}

}  // namespace memberflow::embedded
