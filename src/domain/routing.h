// File: routing.h
// Routing rules of the event bus: the rules file shared by the embedded bus and (later)
// `memberflow aws provision`, the EventBridge envelope that patterns are matched against,
// and the input transformation (a JSONPath-like selection). Pure, no I/O.
//
// Rules file (JSON):
//   {"targets": [{"name": "crm", "type": "webhook", "url": "https://…", "authSecret": "crm-token",
//                 "authHeader": "Authorization", "timeoutMs": 5000, "maxAttempts": 5},
//                {"name": "partner", "type": "bus", "bus": "partner"},
//                {"name": "audit", "type": "queue", "queue": "audit"}],
//    "rules":   [{"name": "crm-updates", "bus": "default", "pattern": {…EventBridge pattern…},
//                 "targets": ["crm"], "inputPath": "$.detail.data.member"}]}
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "domain/bus_entry.h"
#include "domain/event_pattern.h"

namespace memberflow {

struct TargetConfig {
  enum class Kind { kWebhook, kBus, kQueue };
  std::string name;
  Kind kind = Kind::kWebhook;
  std::string url;         // webhook
  std::string authSecret;  // webhook: name of the secret holding the header value
  std::string authHeader = "Authorization";
  long timeoutMs = 5000;
  int maxAttempts = 5;
  std::string bus;    // bus target
  std::string queue;  // queue target
};

struct RuleConfig {
  std::string name;
  std::string bus = "default";
  json::value pattern;
  std::vector<std::string> targets;
  std::string inputPath;  // empty: the whole envelope
};

struct RoutingConfig {
  std::vector<TargetConfig> targets;
  std::vector<RuleConfig> rules;
  const TargetConfig* target(const std::string& name) const;
};

// Validates everything: names unique, patterns valid, targets defined, paths well formed.
Result<RoutingConfig> parseRoutingConfig(std::string_view text);

// The event as EventBridge presents it to patterns and targets.
json::object busEnvelope(const BusEntry& e, const std::string& busName);
// The same with `detail` in place of the parsed e.detail (null when that is not JSON).
json::object busEnvelope(const BusEntry& e, const std::string& busName, json::value detail);

// The rules that match the entry's envelope, in rule order: rules.match(busEnvelope(e,
// busName)), with the detail read by `reader` keeping only what the rules look at
// (event_projection.h), so that no rule's match builds the whole event.
std::vector<std::string> matchingRules(const RuleSet& rules, const BusEntry& e,
                                       const std::string& busName, EventReader& reader);

// "$", "$.a.b", "$.a[0].b". NotFound when the path selects nothing; InvalidArgument when the
// path is malformed.
Result<json::value> selectPath(const json::value& v, std::string_view path);

}  // namespace memberflow
