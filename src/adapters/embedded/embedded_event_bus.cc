#include "adapters/embedded/embedded_event_bus.h"

#include <map>

#include "common/json.h"
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
    bus->byName_[r.name] = &r;
  }
  return bus;
}

std::string deliveryJson(const std::string& eventId, const std::string& rule,
                         const std::string& target, std::string_view payloadJson,
                         const BusEntry* forwarded) {
  std::string out;
  out.reserve(payloadJson.size() + eventId.size() + rule.size() + target.size() + 64);
  out += R"({"eventId":)";
  appendJsonString(out, eventId);
  out += R"(,"rule":)";
  appendJsonString(out, rule);
  out += R"(,"target":)";
  appendJsonString(out, target);
  out += R"(,"payload":)";
  out += payloadJson;
  if (forwarded) {
    const BusEntry& e = *forwarded;
    out += R"(,"entry":{"eventId":)";
    appendJsonString(out, e.eventId);
    out += R"(,"source":)";
    appendJsonString(out, e.source);
    out += R"(,"detailType":)";
    appendJsonString(out, e.detailType);
    out += R"(,"detail":)";
    appendJsonString(out, e.detail);
    out += R"(,"time":)";
    appendJsonString(out, e.time);
    out += R"(,"groupId":)";
    appendJsonString(out, e.groupId);
    out += '}';
  }
  out += '}';
  return out;
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
      const RuleConfig* rule = byName_.at(ruleName);  // every matched name was added
      // The payload is serialized once per rule and spliced into each target's delivery.
      std::string payload;
      if (rule->inputPath.empty()) {
        payload = json::serialize(ev);
      } else {
        auto sel = selectPath(ev, rule->inputPath);
        payload = sel.isOk() ? json::serialize(*sel) : "null";
      }
      for (const auto& t : rule->targets) {
        // A bus target forwards the event itself, not the selection.
        const BusEntry* forwarded = cfg_.target(t)->kind == TargetConfig::Kind::kBus ? &e : nullptr;
        perTarget[t].push_back({e.groupId,
                                e.eventId + "/" + rule->name + "/" + t,
                                deliveryJson(e.eventId, rule->name, t, payload, forwarded),
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
