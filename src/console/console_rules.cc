// The console's rules view (issue 17, docs/console.md): the bus's rules and targets with their
// hits, and what an event would match — with the bus's own matcher (domain/event_pattern,
// domain/routing): there is no second implementation.
#include <map>

#include "console/console_api.h"
#include "console/console_json.h"
#include "console/masking.h"
#include "domain/event_pattern.h"
#include "domain/member_event.h"
#include "domain/routing.h"

namespace memberflow::console {
namespace {

const char* kindName(TargetConfig::Kind k) {
  switch (k) {
    case TargetConfig::Kind::kWebhook: return "webhook";
    case TargetConfig::Kind::kBus: return "bus";
    case TargetConfig::Kind::kQueue: return "queue";
  }
  return "unknown";
}

// The bus envelope of a member event (its CloudEvent, as the relay publishes it).
json::object envelopeOf(const json::object& event, const std::string& bus) {
  BusEntry e{stringField(event, "id").value_or(""),   stringField(event, "source").value_or(""),
             stringField(event, "type").value_or(""), json::serialize(event),
             stringField(event, "time").value_or(""), stringField(event, "subject").value_or("")};
  return busEnvelope(e, bus);
}

}  // namespace

api::ApiResponse ConsoleApi::rules() {
  std::lock_guard lock(portsLock_);
  auto routing = ports_.routing();
  if (!routing.isOk()) return fromStatus(routing.status());
  // Hits: the deliveries recorded per rule (the targets memberflow delivers itself), read on
  // from where the last call stopped. EventBridge keeps its own: null there.
  bool counted = false;
  if (auto log = ports_.deliveries(); log.isOk()) {
    counted = true;
    for (;;) {
      auto page = (*log)->scan(hitsSeq_, 10000);
      if (!page.isOk()) {
        counted = false;
        break;
      }
      if (page->empty()) break;
      for (const auto& d : *page) {
        ++hits_[d.rule];
        hitsSeq_ = std::max(hitsSeq_, d.seq);
      }
    }
  }
  json::array rules;
  for (const auto& r : (*routing)->rules) {
    json::array targets;
    for (const auto& t : r.targets) targets.push_back(json::value(t));
    auto h = hits_.find(r.name);
    rules.push_back(json::object{
        {"name", r.name},
        {"bus", r.bus},
        {"pattern", r.pattern},
        {"targets", std::move(targets)},
        {"inputPath", r.inputPath.empty() ? json::value() : json::value(r.inputPath)},
        {"hits", counted ? json::value(h == hits_.end() ? 0 : h->second) : json::value()}});
  }
  json::array targets;
  for (const auto& t : (*routing)->targets)
    targets.push_back(json::object{{"name", t.name}, {"type", kindName(t.kind)}});
  return jsonOk(json::object{{"rules", std::move(rules)}, {"targets", std::move(targets)}});
}

api::ApiResponse ConsoleApi::testRules(const api::ApiRequest& req, const api::Claims& claims) {
  auto body = parseJson(req.body);
  if (!body.isOk() || !body->is_object())
    return api::problem(400, "bad-request", "Bad request",
                        "send {\"event\": {...}} or {\"member\": \"ID\"}");
  const json::object& o = body->as_object();
  std::lock_guard lock(portsLock_);
  json::object event;
  if (auto* e = o.if_contains("event"); e && e->is_object()) {
    event = e->as_object();
  } else if (auto member = stringField(o, "member")) {
    // The member's current state as the event its last change would publish.
    auto members = ports_.members();
    if (!members.isOk()) return fromStatus(members.status());
    auto got = (*members)->get(*member);
    if (!got.isOk()) return fromStatus(got.status());
    MemberEvent me;
    me.id = "console-test";
    me.type = got->deleted ? "member.deleted" : "member.updated";
    me.memberId = *member;
    me.timeMs = got->updatedAtMs;
    if (!got->deleted) me.after = got->member;
    me.version = got->version;
    me.sourceSequence = got->sourceSequence;
    event = cloudEvent(me);
  } else {
    return api::problem(400, "bad-request", "Bad request",
                        "send {\"event\": {...}} or {\"member\": \"ID\"}");
  }
  // The event and what targets receive hold member data: masked unless revealed (audited).
  bool reveal = false;
  if (auto* r = o.if_contains("reveal"); r && r->is_bool()) reveal = r->as_bool();
  if (reveal) {
    if (Status s = audit(claims, "rules.reveal", stringField(event, "subject").value_or(""), 1,
                         "rules test");
        !s.isOk())
      return fromStatus(s);
  }
  auto shown = [reveal](const json::value& v) { return reveal ? v : masked(v); };
  auto routing = ports_.routing();
  if (!routing.isOk()) return fromStatus(routing.status());
  // One rule set per bus, in the config's order, as the bus compiles them.
  std::map<std::string, RuleSet> buses;
  for (const auto& r : (*routing)->rules) {
    if (Status s = buses[r.bus].add(r.name, r.pattern); !s.isOk()) return fromStatus(s);
  }
  // An EventBridge envelope (detail-type, detail) is tested as it is; a member event (the
  // CloudEvent the relay publishes) is wrapped as the relay's put wraps it.
  const bool isEnvelope = event.contains("detail-type") && event.contains("detail");
  json::array matches;
  for (const auto& [bus, set] : buses) {
    json::value envelope = isEnvelope ? json::value(event) : json::value(envelopeOf(event, bus));
    for (const auto& name : set.match(envelope)) {
      const RuleConfig* rule = nullptr;
      for (const auto& r : (*routing)->rules)
        if (r.name == name && r.bus == bus) rule = &r;
      if (!rule) continue;
      json::array targets;
      for (const auto& t : rule->targets) {
        json::value input = envelope;
        if (!rule->inputPath.empty()) {
          auto sel = selectPath(envelope, rule->inputPath);
          input = sel.isOk() ? *sel : json::value();
        }
        targets.push_back(json::object{{"name", t}, {"input", shown(input)}});
      }
      matches.push_back(
          json::object{{"rule", name}, {"bus", bus}, {"targets", std::move(targets)}});
    }
  }
  return jsonOk(
      json::object{{"event", shown(event)}, {"matches", std::move(matches)}, {"masked", !reveal}});
}

}  // namespace memberflow::console
