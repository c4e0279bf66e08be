#include "console/console_api.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <variant>

#include "common/log.h"
#include "common/time.h"
#include "console/assets.h"
#include "console/console_json.h"
#include "console/masking.h"
#include "ops/dlq_work.h"
#include "ops/pipeline_status.h"

namespace memberflow::console {
namespace {

constexpr const char* kStage = "console";

// The coordinates of a DLQ entry: from its attributes (ingest) and its body's lineage.
json::object coordinates(const ReceivedMessage& m, const json::value* body) {
  json::object c;
  auto attr = [&](const char* k) -> const std::string* {
    auto it = m.attributes.find(k);
    return it == m.attributes.end() ? nullptr : &it->second;
  };
  if (auto* t = attr("topic")) c["topic"] = *t;
  if (auto* p = attr("partition")) c["partition"] = std::atoll(p->c_str());
  if (auto* o = attr("offset")) c["offset"] = std::atoll(o->c_str());
  const json::value* lin = nullptr;
  if (body && body->is_object()) {
    lin = body->as_object().if_contains("lineage");
    if (!lin) {  // a bus event: its lineage is in data
      if (auto* data = body->as_object().if_contains("data"); data && data->is_object())
        lin = data->as_object().if_contains("lineage");
    }
  }
  if (lin && lin->is_object())
    for (auto& [k, v] : coordinatesOf(lin->as_object())) c[k] = v;
  return c;
}

// The deliveries before it was dead-lettered (the attribute sync sets), else the DLQ's own
// count; null when neither knows (an entry only peeked at).
json::value receiveCount(const ReceivedMessage& m) {
  if (auto it = m.attributes.find("receiveCount"); it != m.attributes.end())
    return std::atoll(it->second.c_str());
  return m.receiveCount > 0 ? json::value(m.receiveCount) : json::value();
}

json::object entryJson(const ReceivedMessage& m, bool reveal) {
  auto parsed = parseJson(m.body);
  const json::value* body = parsed.isOk() ? &*parsed : nullptr;
  auto attr = [&](const char* k) {
    auto it = m.attributes.find(k);
    return it == m.attributes.end() ? std::string() : it->second;
  };
  std::string messageId = attr("messageId");
  if (messageId.empty() && body && body->is_object())
    messageId = stringField(body->as_object(), "messageId").value_or("");
  json::object o{{"id", m.messageId},
                 {"reason", attr("reason")},
                 {"stage", attr("stage")},
                 {"sentAt", m.sentAtMs > 0 ? json::value(isoMillis(m.sentAtMs)) : json::value()},
                 {"memberId", m.groupId},
                 {"messageId", messageId},
                 {"receiveCount", receiveCount(m)},
                 {"coordinates", coordinates(m, body)},
                 {"masked", !reveal}};
  if (reveal) {
    o["body"] = body ? *body : json::value(m.body);
  } else {
    o["body"] = body ? masked(*body) : json::value(kMask);
  }
  return o;
}

}  // namespace

ConsoleApi::ConsoleApi(ops::OperatorPorts& ports, ops::OperatorPorts& redrivePorts, AuditLog& audit,
                       ConsoleOptions opts)
    : ports_(ports),
      redrivePorts_(redrivePorts),
      audit_(audit),
      opts_(std::move(opts)),
      sampler_(ports, portsLock_, opts_.sampleMs) {}

api::ApiResponse ConsoleApi::asset(const std::string& path) {
  std::string name = path == "/console" || path == "/console/" ? "index.html"
                     : path.rfind("/console/assets/", 0) == 0  ? path.substr(16)
                                                               : "";
  const ConsoleAsset* a = name.empty() ? nullptr : findConsoleAsset(name);
  if (!a) return api::problem(404, "not-found", "Not found", "no such console asset");
  api::ApiResponse r{200, {{"Content-Type", std::string(a->contentType)}}, std::string(a->data)};
  // The page names its assets by fixed names: revalidated, never trusted stale.
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                         "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                         "base-uri 'none'; form-action 'self'; object-src 'none'");
  return r;
}

api::ApiResponse ConsoleApi::handle(const api::ApiRequest& req, const std::string& path,
                                    const std::map<std::string, std::string>& query,
                                    const api::Claims& claims) {
  if (!claims.scopes.count(kOperateScope)) {
    api::ApiResponse r = api::problem(403, "insufficient-scope", "Insufficient scope",
                                      "the console needs the scope member:operate");
    r.headers.emplace_back("WWW-Authenticate",
                           "Bearer realm=\"memberflow\", error=\"insufficient_scope\", "
                           "scope=\"member:operate\"");
    return r;
  }
  api::ApiResponse r = route(req, path, query, claims);
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

Status ConsoleApi::audit(const api::Claims& claims, const std::string& action,
                         const std::string& target, int64_t count, const std::string& detail) {
  AuditEntry e{ports_.clock().nowMs(),
               claims.subject.empty() ? claims.clientId : claims.subject,
               action,
               target,
               count,
               detail,
               0};
  Status s = audit_.append(e);
  if (s.isOk()) {
    log::info("operator action", {kStage, {}, {}, {}, action, target + " " + detail});
  } else {
    log::error("audit log unavailable", {kStage, {}, {}, {}, "refused", s.toString()});
  }
  return s;
}

api::ApiResponse ConsoleApi::route(const api::ApiRequest& req, const std::string& path,
                                   const std::map<std::string, std::string>& query,
                                   const api::Claims& claims) {
  const std::string& m = req.method;
  const std::string rest = path.substr(std::string("/console/api").size());
  if (rest == "/session" && m == "GET") {
    json::array scopes;
    for (const auto& s : claims.scopes) scopes.push_back(json::value(s));
    return jsonOk(
        json::object{{"subject", claims.subject.empty() ? claims.clientId : claims.subject},
                     {"scopes", std::move(scopes)},
                     {"mode", opts_.mode}});
  }
  if (rest == "/flow" && m == "GET") return jsonOk(sampler_.flow());
  if (rest == "/status" && m == "GET") {
    std::lock_guard lock(portsLock_);
    auto s = ops::pipelineStatus(ports_);
    return s.isOk() ? jsonOk(*s) : fromStatus(s.status());
  }
  if (rest == "/audit" && m == "GET") {
    size_t limit = param(query, "limit")
                       ? static_cast<size_t>(
                             std::clamp(std::atoll(param(query, "limit")->c_str()), 1LL, 1000LL))
                       : 200;
    auto entries = audit_.recent(limit);
    if (!entries.isOk()) return fromStatus(entries.status());
    json::array out;
    for (const auto& e : *entries)
      out.push_back(json::object{{"at", isoMillis(e.atMs)},
                                 {"who", e.who},
                                 {"action", e.action},
                                 {"target", e.target},
                                 {"count", e.count},
                                 {"detail", e.detail}});
    return jsonOk(json::object{{"entries", std::move(out)}});
  }
  if (rest == "/dlqs" && m == "GET") {
    std::lock_guard lock(portsLock_);
    auto all = ops::summarizeDlqs(ports_);
    if (!all.isOk()) return fromStatus(all.status());
    json::array out;
    for (const auto& d : *all) {
      json::array groups;
      for (const auto& g : d.groups)
        groups.push_back(json::object{
            {"reason", g.reason}, {"count", g.count}, {"oldestAt", isoOrNull(g.oldestSentAtMs)}});
      out.push_back(json::object{{"name", d.name},
                                 {"queue", d.queue},
                                 {"depth", d.depth},
                                 {"inFlight", d.inFlight},
                                 {"oldestAt", isoOrNull(d.oldestSentAtMs)},
                                 {"groups", std::move(groups)},
                                 {"truncated", d.truncated}});
    }
    return jsonOk(json::object{{"dlqs", std::move(out)}});
  }
  if (rest.rfind("/dlqs/", 0) == 0) return dlqRoute(req, rest.substr(6), query, claims);
  if (rest == "/lineage" && m == "GET") return lineage(query);
  if (rest == "/archive" && m == "GET") return archiveLine(query, claims);
  if (rest == "/rules" && m == "GET") return rules();
  if (rest == "/rules/test" && m == "POST") return testRules(req, claims);
  return api::problem(404, "not-found", "Not found", "no such console endpoint");
}

api::ApiResponse ConsoleApi::dlqRoute(const api::ApiRequest& req, const std::string& rest,
                                      const std::map<std::string, std::string>& query,
                                      const api::Claims& claims) {
  auto slash = rest.find('/');
  if (slash == std::string::npos)
    return api::problem(404, "not-found", "Not found", "no such console endpoint");
  std::string dlq = rest.substr(0, slash), what = rest.substr(slash + 1);
  std::optional<std::string> reason;
  if (auto* rs = param(query, "reason")) reason = *rs;
  if (what == "entries" && req.method == "GET") {
    long long limit = param(query, "limit") ? std::atoll(param(query, "limit")->c_str()) : 100;
    std::lock_guard lock(portsLock_);
    auto entries =
        ops::dlqEntries(ports_, dlq, reason, static_cast<size_t>(std::clamp(limit, 1LL, 1000LL)));
    if (!entries.isOk()) return fromStatus(entries.status());
    json::array out;
    for (const auto& e : *entries) out.push_back(entryJson(e, false));
    return jsonOk(json::object{{"dlq", dlq}, {"entries", std::move(out)}});
  }
  if (what == "reveal" && req.method == "POST") {
    auto body = parseJson(req.body);
    if (!body.isOk() || !body->is_object() || !stringField(body->as_object(), "id"))
      return api::problem(400, "bad-request", "Bad request", "send {\"id\": \"<entry id>\"}");
    std::string id = *stringField(body->as_object(), "id");
    std::lock_guard lock(portsLock_);
    auto entries = ops::dlqEntries(ports_, dlq, std::nullopt, 100000);
    if (!entries.isOk()) return fromStatus(entries.status());
    auto it = std::find_if(entries->begin(), entries->end(),
                           [&](const ReceivedMessage& m) { return m.messageId == id; });
    if (it == entries->end())
      return api::problem(404, "not-found", "Not found", "no such entry on the DLQ");
    if (Status s = audit(claims, "dlq.reveal", dlq, 1, "entry=" + id); !s.isOk())
      return fromStatus(s);
    return jsonOk(entryJson(*it, true));
  }
  if (what == "redrive" && req.method == "POST") return redrive(dlq, req, claims);
  if (what == "export" && req.method == "GET") {
    std::lock_guard lock(portsLock_);
    auto entries = ops::dlqEntries(ports_, dlq, reason, 1000000);
    if (!entries.isOk()) return fromStatus(entries.status());
    if (Status s = audit(claims, "dlq.export", dlq, static_cast<int64_t>(entries->size()),
                         reason ? "reason=" + *reason : "all");
        !s.isOk())
      return fromStatus(s);
    std::string out;
    for (const auto& e : *entries) out += json::serialize(entryJson(e, false)) + "\n";
    return {200,
            {{"Content-Type", "application/x-ndjson"},
             {"Content-Disposition", "attachment; filename=\"" + dlq + "-dlq.jsonl\""}},
            std::move(out)};
  }
  return api::problem(404, "not-found", "Not found", "no such console endpoint");
}

namespace {

// A reason code as the stages write them: it goes into the audit log, so no free text.
bool isReasonCode(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// The redrive request, every field of the right type or a 400: a malformed dryRun must not
// become a real redrive, nor malformed ids or reason a redrive of everything.
std::variant<api::ApiResponse, ops::RedriveRequest> redriveRequest(const std::string& text,
                                                                   double defaultRate) {
  auto bad = [](const std::string& why) {
    return api::problem(400, "bad-request", "Bad request", why);
  };
  auto body = parseJson(text.empty() ? std::string("{}") : text);
  if (!body.isOk() || !body->is_object()) return bad("the body is not a JSON object");
  const json::object& o = body->as_object();
  ops::RedriveRequest r;
  for (const auto& [k, v] : o) {
    std::string_view key(k.data(), k.size());
    if (key == "ids") {
      if (!v.is_array() || v.as_array().empty()) return bad("ids: a non-empty array of entry ids");
      for (const auto& id : v.as_array()) {
        if (!id.is_string() || id.as_string().empty()) return bad("ids: entry ids are strings");
        r.ids.emplace_back(id.as_string());
      }
    } else if (key == "reason") {
      if (!v.is_string() || !isReasonCode(std::string(v.as_string())))
        return bad("reason: a reason code (letters, digits, _ - .)");
      r.reason = std::string(v.as_string());
    } else if (key == "dryRun") {
      if (!v.is_bool()) return bad("dryRun: true or false");
      r.dryRun = v.as_bool();
    } else if (key == "ratePerSecond") {
      if (!v.is_number()) return bad("ratePerSecond: a number");
      r.ratePerSecond = v.to_number<double>();
      if (!(r.ratePerSecond > 0 && r.ratePerSecond <= 10000))
        return bad("ratePerSecond: 0 < rate <= 10000");
    } else {
      return bad("unknown field " + std::string(key));
    }
  }
  if (!o.contains("ratePerSecond")) r.ratePerSecond = defaultRate;
  return r;
}

}  // namespace

api::ApiResponse ConsoleApi::redrive(const std::string& dlq, const api::ApiRequest& req,
                                     const api::Claims& claims) {
  auto parsed = redriveRequest(req.body, opts_.defaultRedriveRate);
  if (auto* refused = std::get_if<api::ApiResponse>(&parsed)) return *refused;
  ops::RedriveRequest r = std::get<ops::RedriveRequest>(std::move(parsed));
  std::string what = !r.ids.empty() ? std::to_string(r.ids.size()) + " entries"
                     : r.reason     ? "reason=" + *r.reason
                                    : "all";
  if (r.dryRun) {  // peeks only: through the shared ports, briefly
    std::lock_guard lock(portsLock_);
    auto result = ops::redriveDlq(ports_, dlq, r);
    return result.isOk() ? jsonOk(result->toJson()) : fromStatus(result.status());
  }
  // A real redrive, paced, can take minutes: through ports of its own, one at a time, so that
  // the rest of the console (and the sampler) goes on meanwhile.
  std::unique_lock running(redriveLock_, std::try_to_lock);
  if (!running.owns_lock())
    return api::problem(409, "conflict", "A redrive is running",
                        "one redrive at a time: wait for the running one to finish");
  if (auto q = redrivePorts_.dlq(dlq); !q.isOk()) return fromStatus(q.status());
  // Audited before it acts; what it did (or how it failed) follows.
  if (Status s = audit(claims, "dlq.redrive.start", dlq, 0, what); !s.isOk()) return fromStatus(s);
  auto result = ops::redriveDlq(redrivePorts_, dlq, r);
  if (!result.isOk()) {
    (void)audit(claims, "dlq.redrive.failed", dlq, 0,
                what + " error=" + std::string(codeName(result.status().code())));
    return fromStatus(result.status());
  }
  (void)audit(claims, "dlq.redrive", dlq, result->redriven,
              what + " kept=" + std::to_string(result->kept) +
                  " released=" + std::to_string(result->membersReleased) +
                  " rate=" + std::to_string(static_cast<int64_t>(r.ratePerSecond)) + "/s");
  return jsonOk(result->toJson());
}

}  // namespace memberflow::console
