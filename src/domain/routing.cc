#include "domain/routing.h"

#include <cctype>
#include <set>

#include "domain/event_pattern.h"

namespace memberflow {

const TargetConfig* RoutingConfig::target(const std::string& name) const {
  for (const auto& t : targets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {

Status badConfig(const std::string& what) { return Status::invalidArgument("rules file: " + what); }

bool validName(const std::string& n) {
  return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

Result<RoutingConfig> parseRoutingConfig(std::string_view text) {
  auto v = parseJson(text);
  if (!v.isOk() || !v->is_object()) return badConfig("not a JSON object");
  RoutingConfig cfg;
  const json::object& root = v->get_object();
  for (const auto& kv : root) {
    if (kv.key() != "targets" && kv.key() != "rules")
      return badConfig("unknown key " + std::string(kv.key()));
  }
  std::set<std::string> names;
  if (const json::value* ts = field(root, "targets")) {
    if (!ts->is_array()) return badConfig("targets must be a list");
    for (const auto& tv : ts->get_array()) {
      if (!tv.is_object()) return badConfig("a target must be an object");
      const json::object& t = tv.get_object();
      TargetConfig tc;
      tc.name = stringField(t, "name").value_or("");
      if (!validName(tc.name)) return badConfig("target name '" + tc.name + "' is not valid");
      if (!names.insert(tc.name).second)
        return badConfig("target '" + tc.name + "' is defined twice");
      std::string type = stringField(t, "type").value_or("");
      if (type == "webhook") {
        tc.kind = TargetConfig::Kind::kWebhook;
        tc.url = stringField(t, "url").value_or("");
        if (tc.url.rfind("http://", 0) != 0 && tc.url.rfind("https://", 0) != 0) {
          return badConfig("target '" + tc.name + "': url must be http(s)");
        }
        tc.authSecret = stringField(t, "authSecret").value_or("");
        tc.authHeader = stringField(t, "authHeader").value_or("Authorization");
      } else if (type == "bus") {
        tc.kind = TargetConfig::Kind::kBus;
        tc.bus = stringField(t, "bus").value_or("");
        if (!validName(tc.bus)) return badConfig("target '" + tc.name + "': bus name is not valid");
      } else if (type == "queue") {
        tc.kind = TargetConfig::Kind::kQueue;
        tc.queue = stringField(t, "queue").value_or("");
        if (!validName(tc.queue))
          return badConfig("target '" + tc.name + "': queue name is not valid");
      } else {
        return badConfig("target '" + tc.name + "': type must be webhook, bus or queue");
      }
      tc.timeoutMs = static_cast<long>(intField(t, "timeoutMs").value_or(5000));
      tc.maxAttempts = static_cast<int>(intField(t, "maxAttempts").value_or(5));
      if (tc.timeoutMs < 1 || tc.maxAttempts < 1) {
        return badConfig("target '" + tc.name + "': timeoutMs and maxAttempts must be positive");
      }
      cfg.targets.push_back(std::move(tc));
    }
  }
  std::set<std::string> ruleNames;
  if (const json::value* rs = field(root, "rules")) {
    if (!rs->is_array()) return badConfig("rules must be a list");
    for (const auto& rv : rs->get_array()) {
      if (!rv.is_object()) return badConfig("a rule must be an object");
      const json::object& r = rv.get_object();
      RuleConfig rc;
      rc.name = stringField(r, "name").value_or("");
      if (!validName(rc.name)) return badConfig("rule name '" + rc.name + "' is not valid");
      if (!ruleNames.insert(rc.name).second)
        return badConfig("rule '" + rc.name + "' is defined twice");
      rc.bus = stringField(r, "bus").value_or("default");
      const json::value* p = field(r, "pattern");
      if (!p) return badConfig("rule '" + rc.name + "' has no pattern");
      auto compiled = EventPattern::parse(*p);
      if (!compiled.isOk())
        return badConfig("rule '" + rc.name + "': " + compiled.status().message());
      rc.pattern = *p;
      const json::value* ts = field(r, "targets");
      if (!ts || !ts->is_array() || ts->get_array().empty()) {
        return badConfig("rule '" + rc.name + "' needs a list of targets");
      }
      for (const auto& t : ts->get_array()) {
        if (!t.is_string() || !cfg.target(std::string(t.get_string()))) {
          return badConfig("rule '" + rc.name + "' names an undefined target");
        }
        rc.targets.emplace_back(t.get_string());
      }
      rc.inputPath = stringField(r, "inputPath").value_or("");
      if (!rc.inputPath.empty()) {
        auto probe = selectPath(json::object{}, rc.inputPath);
        if (!probe.isOk() && probe.status().code() == Code::kInvalidArgument) {
          return badConfig("rule '" + rc.name + "': " + probe.status().message());
        }
      }
      cfg.rules.push_back(std::move(rc));
    }
  }
  return cfg;
}

json::object busEnvelope(const BusEntry& e, const std::string& busName) {
  auto detail = parseJson(e.detail);
  return busEnvelope(e, busName, detail.isOk() ? std::move(*detail) : json::value(nullptr));
}

json::object busEnvelope(const BusEntry& e, const std::string& busName, json::value detail) {
  return json::object{{"version", "0"},
                      {"id", e.eventId},
                      {"detail-type", e.detailType},
                      {"source", e.source},
                      {"account", "000000000000"},
                      {"time", e.time},
                      {"region", "local"},
                      {"resources", json::array{}},
                      {"event-bus-name", busName},
                      {"detail", std::move(detail)}};
}

std::vector<std::string> matchingRules(const RuleSet& rules, const BusEntry& e,
                                       const std::string& busName, EventReader& reader) {
  // The projection names the envelope's fields; under "detail", the event's.
  auto detail = reader.read(rules.projection().field("detail"), e.detail);
  return rules.match(
      busEnvelope(e, busName, detail.isOk() ? json::value(**detail) : json::value(nullptr)));
}

Result<json::value> selectPath(const json::value& v, std::string_view path) {
  if (path.empty() || path[0] != '$')
    return Status::invalidArgument("input path must start with $");
  const json::value* cur = &v;
  size_t i = 1;
  while (i < path.size()) {
    if (path[i] == '.') {
      size_t j = i + 1;
      while (j < path.size() && path[j] != '.' && path[j] != '[') ++j;
      if (j == i + 1) return Status::invalidArgument("input path has an empty field name");
      std::string name(path.substr(i + 1, j - i - 1));
      if (!cur->is_object() || !cur->get_object().contains(name))
        return Status::notFound("path selects nothing");
      cur = &cur->get_object().at(name);
      i = j;
    } else if (path[i] == '[') {
      size_t j = path.find(']', i);
      if (j == std::string_view::npos || j == i + 1)
        return Status::invalidArgument("input path has a bad index");
      std::string digits(path.substr(i + 1, j - i - 1));
      if (!std::all_of(digits.begin(), digits.end(),
                       [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        return Status::invalidArgument("input path index must be a number");
      }
      size_t idx = std::stoul(digits);
      if (!cur->is_array() || idx >= cur->get_array().size())
        return Status::notFound("path selects nothing");
      cur = &cur->get_array()[idx];
      i = j + 1;
    } else {
      return Status::invalidArgument("input path is malformed");
    }
  }
  return *cur;
}

}  // namespace memberflow
