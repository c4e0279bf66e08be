// The Member API's routing, reads and operations endpoints; the writes (single and batch) are in
// member_writes.cc.
#include "api/handlers.h"

#include <boost/url/parse.hpp>
#include <charconv>

#include "api/handler_support.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/time.h"

namespace memberflow::api {

ApiResponse jsonResponse(int status, const json::value& body) {
  return {status, {{"Content-Type", "application/json"}}, json::serialize(body)};
}

std::string etagOf(int64_t version) { return "\"" + std::to_string(version) + "\""; }

// "3", "\"3\"" or W/"3" -> 3.
std::optional<int64_t> parseEtag(std::string s) {
  if (s.rfind("W/", 0) == 0) s = s.substr(2);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> parseInt(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

ApiResponse unprocessable(const Status& s) {
  return problem(422, "validation-failed", "The member breaks a validation rule", describe(s));
}

ApiResponse problem(int status, const std::string& slug, const std::string& title,
                    const std::string& detail) {
  json::object o{{"type", "urn:memberflow:problem:" + slug},
                 {"title", title},
                 {"status", status},
                 {"detail", detail}};
  return {status, {{"Content-Type", "application/problem+json"}}, json::serialize(o)};
}

ApiResponse MemberApi::tooMany(int64_t retryAfterSeconds) {
  ApiResponse r = problem(429, "too-many-requests", "Too many requests",
                          "this client's request rate is over its limit");
  r.headers.emplace_back("Retry-After", std::to_string(std::max<int64_t>(1, retryAfterSeconds)));
  return r;
}

std::string MemberApi::clientAddress(const ApiRequest& req) const {
  if (!opts_.trustedProxies.count(req.remoteAddress)) return req.remoteAddress;
  // "client, proxy1, proxy2": walk from the right past the proxies we trust.
  std::string xff = req.header("x-forwarded-for");
  std::string addr = req.remoteAddress;
  size_t end = xff.size();
  while (end > 0 && opts_.trustedProxies.count(addr)) {
    size_t comma = xff.rfind(',', end - 1);
    size_t start = comma == std::string::npos ? 0 : comma + 1;
    std::string part = xff.substr(start, end - start);
    auto b = part.find_first_not_of(" \t");
    auto e = part.find_last_not_of(" \t");
    if (b == std::string::npos) break;
    addr = part.substr(b, e - b + 1);
    if (comma == std::string::npos) break;
    end = comma;
  }
  return addr.substr(0, 64);
}

ApiResponse MemberApi::operations(const std::string& name) const {
  if (name == "healthz") return jsonResponse(200, {{"status", "ok"}});
  if (name == "readyz") {
    Status s = store_.ping();
    if (s.isOk()) return jsonResponse(200, {{"status", "ready"}});
    return problem(503, "not-ready", "Not ready", "the member store does not answer");
  }
  if (name == "metrics")
    return {200, {{"Content-Type", "text/plain; version=0.0.4"}}, Metrics::instance().serialize()};
  return {200, {{"Content-Type", "application/json"}}, std::string(openapiDocument())};
}

ApiResponse MemberApi::handle(const ApiRequest& req) const {
  auto started = std::chrono::steady_clock::now();
  ApiResponse resp;
  auto url = boost::urls::parse_origin_form(req.target);
  if (!url) {
    resp = problem(400, "bad-request", "Malformed request target", "the target is not a path");
  } else {
    std::string path = url->path();
    std::map<std::string, std::string> query;
    for (auto p : url->params()) query[p.key] = p.value;
    try {
      resp = route(req, path, query);
    } catch (const std::exception& e) {
      // A bug must not take the server down; the client gets a 500 and the log a line.
      log::error("request failed", {kStage, {}, {}, {}, "error", e.what()});
      resp = problem(500, "internal", "Internal error", "the request could not be completed");
    }
  }
  auto& m = Metrics::instance();
  m.httpRequests(req.method, resp.status).Increment();
  m.httpSeconds(req.method)
      .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return resp;
}

ApiResponse MemberApi::route(const ApiRequest& req, const std::string& path,
                             const std::map<std::string, std::string>& query) const {
  const std::string& method = req.method;
  if (auto extra = opts_.extraRoutes.find(path); extra != opts_.extraRoutes.end()) {
    int64_t wait = 1;
    if (!failureLimit_->allow(clientAddress(req), clock_.nowMs(), &wait)) return tooMany(wait);
    return extra->second(req);
  }
  const bool console = path == "/console" || path.rfind("/console/", 0) == 0;
  const bool consoleApi = console && path.rfind("/console/api/", 0) == 0;
  if (console && !consoleApi) {  // the console's page and assets: no data, no token
    if (!opts_.consoleAssets) return problem(404, "not-found", "Not found", "no console here");
    if (method != "GET" && method != "HEAD")
      return problem(405, "method-not-allowed", "Method not allowed", "use GET");
    return opts_.consoleAssets(path);
  }
  // Operations endpoints carry no member data: open unless configured otherwise.
  // (A literal, not a string: this runs for every request.)
  const char* ops = path == "/healthz"        ? "healthz"
                    : path == "/readyz"       ? "readyz"
                    : path == "/metrics"      ? "metrics"
                    : path == "/openapi.json" ? "openapi"
                                              : nullptr;
  if (ops && method == "GET" && opts_.openEndpoints.count(ops)) return operations(ops);

  // Everything else needs a bearer token (RFC 6750).
  const std::string& authz = req.header("authorization");
  if (authz.size() < 7 || strncasecmp(authz.c_str(), "Bearer ", 7) != 0) {
    ApiResponse r =
        problem(401, "unauthorized", "Authentication required", "send an OAuth 2.0 bearer token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"memberflow\"");
    return r;
  }
  auto claims = auth_.verify(authz.substr(7));
  if (!claims.isOk()) {
    if (claims.status().code() == Code::kUnavailable) {
      // The issuer's key set could not be had: not the client's fault (the failed fetch is
      // logged, at most every 30 s, by the key source; not once per request here).
      log::debug("token not verifiable",
                 {kStage, {}, {}, {}, "auth_unavailable", claims.status().message()});
      ApiResponse r =
          problem(503, "auth-unavailable", "Service unavailable", "tokens cannot be verified now");
      r.headers.emplace_back("Retry-After", "5");
      return r;
    }
    int64_t wait = 1;
    if (!failureLimit_->allow(clientAddress(req), clock_.nowMs(), &wait)) return tooMany(wait);
    ApiResponse r = problem(401, "invalid-token", "Invalid token", claims.status().message());
    r.headers.emplace_back("WWW-Authenticate",
                           "Bearer realm=\"memberflow\", error=\"invalid_token\", "
                           "error_description=\"" +
                               claims.status().message() + "\"");
    return r;
  }
  int64_t wait = 1;
  const std::string& client = claims->clientId.empty() ? claims->subject : claims->clientId;
  if (opts_.ratePerClient > 0 && !opts_.rateExempt.count(client) &&
      !clientLimit_->allow(client, clock_.nowMs(), &wait)) {
    return tooMany(wait);
  }
  if (ops && method == "GET") return operations(ops);  // protected: any valid token
  if (consoleApi) {  // the console checks its own scope (member:operate)
    if (!opts_.consoleApi) return problem(404, "not-found", "Not found", "no console here");
    return opts_.consoleApi(req, path, query, *claims);
  }
  bool isRead = method == "GET" || method == "HEAD";
  const char* needed = isRead ? "member:read" : "member:write";
  if (!claims->scopes.count(needed)) {
    ApiResponse r = problem(403, "insufficient-scope", "Insufficient scope",
                            std::string("this request needs the scope ") + needed);
    r.headers.emplace_back("WWW-Authenticate",
                           std::string("Bearer realm=\"memberflow\", error=\"insufficient_scope\", "
                                       "scope=\"") +
                               needed + "\"");
    return r;
  }

  if (path == "/members:batchWrite") {
    if (method == "POST") return batchWrite(req);
    return problem(405, "method-not-allowed", "Method not allowed", "use POST");
  }
  if (path == "/members") {
    if (method == "GET") return list(query);
    return problem(405, "method-not-allowed", "Method not allowed", "use GET");
  }
  if (path == "/member") {
    if (method == "POST") return write(WriteKind::kCreate, {}, req);
    return problem(405, "method-not-allowed", "Method not allowed", "use POST");
  }
  const std::string prefix = "/member/";
  if (path.rfind(prefix, 0) == 0) {
    std::string rest = path.substr(prefix.size());
    bool isHistory = false, isParking = false;
    if (rest.size() > 8 && rest.compare(rest.size() - 8, 8, "/history") == 0) {
      rest.resize(rest.size() - 8);
      isHistory = true;
    } else if (rest.size() > 8 && rest.compare(rest.size() - 8, 8, "/parking") == 0) {
      rest.resize(rest.size() - 8);
      isParking = true;
    }
    if (!rules::validMemberId(rest)) {
      return problem(400, "invalid-member-id", "Invalid member id",
                     "member ids match ^[A-Za-z0-9-]{1,64}$");
    }
    if (isHistory || isParking) {
      if (method == "GET") return isHistory ? history(rest) : parking(rest);
      return problem(405, "method-not-allowed", "Method not allowed", "use GET");
    }
    if (method == "GET") return getMember(rest, req);
    if (method == "PUT") return write(WriteKind::kPut, rest, req);
    if (method == "PATCH") return write(WriteKind::kPatch, rest, req);
    if (method == "DELETE") return write(WriteKind::kDelete, rest, req);
    return problem(405, "method-not-allowed", "Method not allowed",
                   "use GET, PUT, PATCH or DELETE");
  }
  return problem(404, "not-found", "Not found", "no such resource");
}

ApiResponse MemberApi::getMember(const std::string& id, const ApiRequest& req) const {
  std::shared_ptr<const MemberCache::Entry> e = cache_ ? cache_->get(id) : nullptr;
  if (!e) {
    uint64_t epoch = cache_ ? cache_->epoch() : 0;
    auto m = store_.get(id);
    if (!m.isOk()) {
      if (m.status().code() == Code::kNotFound) {
        return problem(404, "member-not-found", "Member not found", "no member with this id");
      }
      return problem(503, "store-unavailable", "Store unavailable", "try again later");
    }
    auto fresh = std::make_shared<MemberCache::Entry>();
    fresh->version = m->version;
    fresh->deleted = m->deleted;
    if (!m->deleted) fresh->body = json::serialize(storedMemberJson(*m));
    e = fresh;
    if (cache_) cache_->fill(id, std::move(fresh), epoch);
  }
  if (e->deleted)
    return problem(404, "member-not-found", "Member not found", "the member was deleted");
  if (auto inm = req.header("if-none-match"); !inm.empty() && parseEtag(inm) == e->version) {
    return {304, {{"ETag", etagOf(e->version)}}, {}};
  }
  return {200, {{"Content-Type", "application/json"}, {"ETag", etagOf(e->version)}}, e->body};
}

// Whether sync holds the member's changes: a change of its own was dead-lettered, and its later
// changes wait (in order) until the dead one is redriven. The member's state is then behind
// its source. 200 for any member id (parked or not), so a client can poll it.
ApiResponse MemberApi::parking(const std::string& id) const {
  if (!opts_.parking) return problem(404, "not-found", "Not found", "no parking store here");
  auto st = opts_.parking->state({id});
  if (!st.isOk()) return problem(503, "store-unavailable", "Store unavailable", "try again later");
  json::object out{{"memberId", id}, {"parked", (*st)[0].has_value()}};
  if (const auto& p = (*st)[0]) {
    out["state"] = p->state == ParkedMember::State::kParked ? "parked" : "released";
    out["held"] = p->held;
    out["deadMessageId"] = p->deadMessageId;
    out["reason"] = p->reason;
    out["parkedAt"] = isoMillis(p->parkedAtMs);
  }
  return {200, {{"Content-Type", "application/json"}}, json::serialize(out)};
}

ApiResponse MemberApi::history(const std::string& id) const {
  auto h = store_.history(id);
  if (!h.isOk()) {
    if (h.status().code() == Code::kNotFound) {
      return problem(404, "member-not-found", "Member not found", "no member with this id");
    }
    return problem(503, "store-unavailable", "Store unavailable", "try again later");
  }
  json::array items;
  for (const auto& e : *h) {
    json::array fields;
    for (const auto& f : e.changedFields) fields.emplace_back(f);
    items.push_back(json::object{
        {"version", e.version},
        {"op", e.op},
        {"eventId", e.eventId},
        {"messageId", e.messageId.empty() ? json::value(nullptr) : json::value(e.messageId)},
        {"sourceSequence", e.sourceSequence},
        {"changedFields", std::move(fields)},
        {"lineage", e.lineage},
        {"appliedAt", isoMillis(e.appliedAtMs)}});
  }
  return jsonResponse(200, json::object{{"memberId", id}, {"changes", std::move(items)}});
}

ApiResponse MemberApi::list(const std::map<std::string, std::string>& query) const {
  int64_t since = 0;
  size_t limit = 100;
  std::string cursor;
  for (const auto& [k, v] : query) {
    if (k == "updatedSince") {
      auto ms = epochMsFromIso(v);
      if (!ms) {
        auto d = daysFromIsoDate(v);
        if (!d) {
          return problem(400, "invalid-parameter", "Invalid parameter",
                         "updatedSince must be an ISO 8601 date or date-time");
        }
        ms = *d * 86400000;
      }
      since = *ms;
    } else if (k == "limit") {
      auto n = parseInt(v);
      if (!n || *n < 1 || *n > 1000) {
        return problem(400, "invalid-parameter", "Invalid parameter", "limit must be 1..1000");
      }
      limit = static_cast<size_t>(*n);
    } else if (k == "cursor") {
      cursor = v;
    } else {
      return problem(400, "invalid-parameter", "Invalid parameter", "unknown query parameter " + k);
    }
  }
  auto page = store_.listUpdated(since, cursor, limit);
  if (!page.isOk()) {
    if (page.status().code() == Code::kInvalidArgument) {
      return problem(400, "invalid-parameter", "Invalid parameter", "malformed cursor");
    }
    return problem(503, "store-unavailable", "Store unavailable", "try again later");
  }
  json::array items;
  for (const auto& m : page->members) items.push_back(storedMemberJson(m));
  return jsonResponse(
      200, json::object{{"members", std::move(items)},
                        {"nextCursor", page->nextCursor.empty() ? json::value(nullptr)
                                                                : json::value(page->nextCursor)}});
}

}  // namespace memberflow::api
