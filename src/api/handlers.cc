#include "api/handlers.h"

#include <boost/url/parse.hpp>
#include <charconv>
#include <variant>

#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/time.h"

namespace memberflow::api {
namespace {

constexpr const char* kStage = "api";

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

// RFC 7396 JSON Merge Patch.
json::value mergePatch(const json::value& target, const json::value& patch) {
  if (!patch.is_object()) return patch;
  json::object result = target.is_object() ? target.get_object() : json::object{};
  for (const auto& kv : patch.get_object()) {
    if (kv.value().is_null()) {
      result.erase(kv.key());
    } else {
      auto it = result.find(kv.key());
      result[kv.key()] =
          mergePatch(it == result.end() ? json::value(nullptr) : it->value(), kv.value());
    }
  }
  return result;
}

ApiResponse unprocessable(const Status& s) {
  return problem(422, "validation-failed", "The member breaks a validation rule", describe(s));
}

}  // namespace

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
    bool isHistory = false;
    if (rest.size() > 8 && rest.compare(rest.size() - 8, 8, "/history") == 0) {
      rest.resize(rest.size() - 8);
      isHistory = true;
    }
    if (!rules::validMemberId(rest)) {
      return problem(400, "invalid-member-id", "Invalid member id",
                     "member ids match ^[A-Za-z0-9-]{1,64}$");
    }
    if (isHistory) {
      if (method == "GET") return history(rest);
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

namespace {
constexpr size_t kMaxBatchItems = 500;

// One item of a batch write as the single request it stands for.
struct BatchItem {
  WriteKind kind;
  std::string memberId;
  ApiRequest request;
};

// InvalidArgument (the item's problem) when it is no item.
Result<BatchItem> batchItemRequest(const json::value& item, const ApiRequest& batch) {
  auto bad = [](const std::string& why) { return Status::invalidArgument(why); };
  if (!item.is_object()) return bad("an item must be an object");
  const auto& o = item.get_object();
  std::string op = stringField(o, "op").value_or("");
  if (op != "put" && op != "delete") return bad("op must be put or delete");
  auto id = stringField(o, "memberId");
  if (!id || !rules::validMemberId(*id)) return bad("memberId must match ^[A-Za-z0-9-]{1,64}$");
  auto key = stringField(o, "idempotencyKey");
  if (!key || key->empty()) return bad("idempotencyKey is required");
  ApiRequest r;
  r.method = op == "put" ? "PUT" : "DELETE";
  r.target = "/member/" + *id;
  r.remoteAddress = batch.remoteAddress;
  r.headers["idempotency-key"] = *key;
  if (const json::value* seq = field(o, "sourceSequence"); seq && !seq->is_null()) {
    if (!seq->is_int64() && !seq->is_uint64()) return bad("sourceSequence must be an integer");
    r.headers["x-source-sequence"] = json::serialize(*seq);
  }
  if (auto mid = stringField(o, "messageId")) r.headers["x-message-id"] = *mid;
  if (const json::value* lin = field(o, "lineage"); lin && lin->is_object())
    r.headers["x-lineage"] = json::serialize(*lin);
  if (op == "put") {
    const json::value* member = field(o, "member");
    if (!member || !member->is_object()) return bad("a put needs the member object");
    r.body = json::serialize(*member);
    r.headers["content-type"] = "application/json";
  }
  return BatchItem{op == "put" ? WriteKind::kPut : WriteKind::kDelete, *id, std::move(r)};
}
}  // namespace

ApiResponse MemberApi::batchWrite(const ApiRequest& req) const {
  if (req.body.size() > opts_.maxBodyBytes) {
    return problem(413, "payload-too-large", "Payload too large", "the body exceeds the limit");
  }
  auto parsed = parseJson(req.body);
  if (!parsed.isOk()) {
    return problem(400, "malformed-json", "Malformed JSON", "the body is not valid JSON");
  }
  const json::value* items = parsed->is_object() ? field(parsed->get_object(), "items") : nullptr;
  if (!items || !items->is_array()) {
    return problem(400, "invalid-batch", "Invalid batch", "the body must be {\"items\": [...]}");
  }
  if (items->get_array().size() > kMaxBatchItems) {
    return problem(400, "invalid-batch", "Invalid batch",
                   "a batch holds at most " + std::to_string(kMaxBatchItems) + " items");
  }
  // In request order: an item of a member is applied after that member's earlier items, as the
  // same requests one after the other would be. One item's failure fails only that item.
  // Each item prepared as its single request would be; the writes go to the store together
  // (one transaction where the store allows), in order.
  const auto& list = items->get_array();
  std::vector<ApiResponse> responses(list.size());
  std::vector<StoreWrite> writes;
  std::vector<size_t> writeOf;  // the item of each write
  writes.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    auto one = batchItemRequest(list[i], req);
    if (!one.isOk()) {
      responses[i] =
          problem(400, "invalid-batch-item", "Invalid batch item", one.status().message());
      continue;
    }
    auto prepared = prepareWrite(one->kind, one->memberId, one->request);
    if (auto* early = std::get_if<ApiResponse>(&prepared)) {
      responses[i] = std::move(*early);
      continue;
    }
    writes.push_back(std::move(std::get<StoreWrite>(prepared)));
    writeOf.push_back(i);
  }
  std::vector<const StoreWrite*> pointers;
  for (const auto& w : writes) pointers.push_back(&w);
  auto outcomes = store_.applyAll(pointers);
  for (size_t k = 0; k < writes.size(); ++k) {
    responses[writeOf[k]] = finishWrite(
        writes[k],
        k < outcomes.size() ? outcomes[k] : Result<WriteOutcome>(Status::internal("no outcome")));
  }
  json::array results;
  for (const ApiResponse& r : responses) {
    json::object result{{"status", r.status}};
    for (const auto& [name, value] : r.headers) {
      if (name == "ETag") result["etag"] = value;
    }
    if (!r.body.empty()) {
      auto doc = parseJson(r.body);
      if (doc.isOk()) result[r.status >= 400 ? "problem" : "member"] = std::move(doc).value();
    }
    results.push_back(std::move(result));
  }
  return {200,
          {{"Content-Type", "application/json"}},
          json::serialize(json::object{{"results", std::move(results)}})};
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

ApiResponse MemberApi::write(WriteKind kind, const std::string& pathId,
                             const ApiRequest& req) const {
  auto prepared = prepareWrite(kind, pathId, req);
  if (auto* early = std::get_if<ApiResponse>(&prepared)) return std::move(*early);
  const StoreWrite& w = std::get<StoreWrite>(prepared);
  return finishWrite(w, store_.apply(w));
}

std::variant<ApiResponse, StoreWrite> MemberApi::prepareWrite(WriteKind kind,
                                                              const std::string& pathId,
                                                              const ApiRequest& req) const {
  if (req.body.size() > opts_.maxBodyBytes) {
    return problem(413, "payload-too-large", "Payload too large", "the body exceeds the limit");
  }
  StoreWrite w;
  w.kind = kind;
  w.nowMs = clock_.nowMs();
  int64_t today = clock_.todayDays();

  std::optional<json::value> body;
  if (kind != WriteKind::kDelete) {
    auto parsed = parseJson(req.body);
    if (!parsed.isOk()) {
      return problem(400, "malformed-json", "Malformed JSON", "the body is not valid JSON");
    }
    body = std::move(parsed).value();
  }
  if (kind == WriteKind::kCreate) {
    if (!body->is_object() || !stringField(body->get_object(), "memberId")) {
      return problem(422, "validation-failed", "The member breaks a validation rule",
                     "missing_field: memberId is required");
    }
    w.memberId = *stringField(body->get_object(), "memberId");
    if (!rules::validMemberId(w.memberId)) {
      return problem(422, "validation-failed", "The member breaks a validation rule",
                     "invalid_member_id: memberId is malformed");
    }
  } else {
    w.memberId = pathId;
  }
  // PUT and POST validate up front; PATCH validates the merged result inside the store.
  if (kind == WriteKind::kPut || kind == WriteKind::kCreate) {
    auto m = memberFromJson(*body, w.memberId, today);
    if (!m.isOk()) return unprocessable(m.status());
    Member member = std::move(m).value();
    w.content = [member](const StoredMember*) -> Result<Member> { return member; };
  } else if (kind == WriteKind::kPatch) {
    if (!body->is_object()) {
      return problem(422, "validation-failed", "The member breaks a validation rule",
                     "invalid_type: a merge patch must be an object");
    }
    json::value patch = *body;
    std::string id = w.memberId;
    w.content = [patch, id, today](const StoredMember* cur) -> Result<Member> {
      json::value merged = mergePatch(memberJson(cur->member), patch);
      return memberFromJson(merged, id, today);
    };
  }
  if (auto seq = req.header("x-source-sequence"); !seq.empty()) {
    w.sourceSequence = parseInt(seq);
    if (!w.sourceSequence) {
      return problem(400, "invalid-source-sequence", "Invalid X-Source-Sequence",
                     "X-Source-Sequence must be an integer");
    }
  }
  if (auto im = req.header("if-match"); !im.empty()) {
    w.ifMatchVersion = parseEtag(im);
    if (!w.ifMatchVersion) {
      return problem(412, "precondition-failed", "Precondition failed",
                     "If-Match names no version");
    }
  }
  if (auto key = req.header("idempotency-key"); !key.empty()) {
    if (key.size() > 255) {
      return problem(400, "invalid-idempotency-key", "Invalid Idempotency-Key",
                     "Idempotency-Key exceeds 255 characters");
    }
    w.idempotencyKey = key;
    w.requestFingerprint = crypto::sha256Hex(req.method + " " + req.target + "\n" + req.body);
  }
  w.messageId = req.header("x-message-id");
  w.lineage = json::object{{"via", "api"}};
  if (auto lin = req.header("x-lineage"); !lin.empty()) {
    if (auto v = parseJson(lin); v.isOk() && v->is_object()) w.lineage = v->get_object();
  }
  return w;
}

ApiResponse MemberApi::finishWrite(const StoreWrite& w, const Result<WriteOutcome>& out) const {
  // The response of a write that took effect, the first time and when its key replays it.
  auto render = [location = "/member/" + w.memberId](WriteResult result,
                                                     const std::optional<StoredMember>& m) {
    ApiResponse r{result == WriteResult::kCreated ? 201 : 200, {}, {}};
    if (result == WriteResult::kDeleted) {
      r.status = 204;
      return r;
    }
    if (m) {
      r.body = json::serialize(storedMemberJson(*m));
      r.headers.emplace_back("Content-Type", "application/json");
      r.headers.emplace_back("ETag", etagOf(m->version));
    }
    if (result == WriteResult::kCreated) r.headers.emplace_back("Location", location);
    return r;
  };

  if (cache_) cache_->invalidate(w.memberId);  // whatever happened: the next read goes to the store
  if (!out.isOk()) {
    log::error("member write failed",
               {kStage, w.messageId, w.memberId, {}, "error", out.status().toString()});
    ApiResponse r = problem(503, "store-unavailable", "Store unavailable", "try again later");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  const WriteOutcome& o = *out;
  log::debug("member write", {kStage, w.messageId, w.memberId, o.eventId, name(o.result), {}});
  switch (o.result) {
    case WriteResult::kCreated:
    case WriteResult::kUpdated:
    case WriteResult::kNoOp:
    case WriteResult::kDeleted: return render(o.result, o.member);
    case WriteResult::kReplayed: {
      ApiResponse r = render(o.replayed, o.member);
      r.headers.emplace(r.headers.begin(), "Idempotent-Replayed", "true");
      return r;
    }
    case WriteResult::kKeyReused:
      return problem(422, "idempotency-key-reused", "Idempotency-Key reused",
                     "this Idempotency-Key was used for a different request");
    case WriteResult::kStale:
      return problem(409, "stale-source-sequence", "Stale change",
                     "X-Source-Sequence is not greater than the stored sequence " +
                         std::to_string(o.member ? o.member->sourceSequence : 0));
    case WriteResult::kPreconditionFailed:
      return problem(412, "precondition-failed", "Precondition failed",
                     "If-Match does not match the current version");
    case WriteResult::kAlreadyExists:
      return problem(409, "member-exists", "Member exists", "use PUT to replace a member");
    case WriteResult::kNotFound:
      return problem(404, "member-not-found", "Member not found", "no member with this id");
    case WriteResult::kInvalid: return unprocessable(o.invalid);
  }
  return problem(500, "internal", "Internal error", "unexpected write outcome");
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
