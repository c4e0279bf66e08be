// The Member API's writes: PUT, PATCH, DELETE and POST of one member (write(): checked, turned
// into the store's write, applied, answered) and POST /members:batchWrite (every item prepared
// as its single request would be, the writes applied together by MemberStore::applyAll).
#include <string_view>
#include <variant>

#include "api/handler_support.h"
#include "api/handlers.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "common/text.h"
#include "common/time.h"

namespace memberflow::api {
namespace {

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

constexpr size_t kMaxBatchItems = 500;

// Whether a Prefer header asks for return=minimal. RFC 7240: preferences are separated by
// commas (outside quoted strings), each `name [BWS "=" BWS value] *(";" parameter)`; names
// are case-insensitive; only the first occurrence of a preference counts.
bool prefersMinimal(std::string_view prefer) {
  auto trim = [](std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
  };
  size_t start = 0;
  while (start < prefer.size()) {
    // This preference runs to the next comma that is not inside a quoted string.
    size_t end = start;
    bool quoted = false;
    for (; end < prefer.size() && (quoted || prefer[end] != ','); ++end) {
      if (prefer[end] == '\\' && quoted && end + 1 < prefer.size()) {
        ++end;
      } else if (prefer[end] == '"') {
        quoted = !quoted;
      }
    }
    std::string_view pref = prefer.substr(start, end - start);
    start = end + 1;
    pref = pref.substr(0, pref.find(';'));  // its parameters do not matter here
    size_t eq = pref.find('=');
    std::string_view name = trim(pref.substr(0, eq));
    if (asciiLower(name) != "return") continue;
    std::string_view value = eq == std::string_view::npos ? "" : trim(pref.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    return value == "minimal";  // the first `return` decides
  }
  return false;
}

// One item of a batch write as the single request it stands for, with its member and
// lineage as the batch document holds them (not parsed again from the request's text).
struct BatchItem {
  WriteKind kind;
  std::string memberId;
  ApiRequest request;
  const json::value* member = nullptr;
  const json::object* lineage = nullptr;
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
  const json::object* lineage = nullptr;  // handed over parsed: no x-lineage header to parse
  if (const json::value* lin = field(o, "lineage"); lin && lin->is_object())
    lineage = &lin->get_object();
  const json::value* member = nullptr;
  if (op == "put") {
    member = field(o, "member");
    if (!member || !member->is_object()) return bad("a put needs the member object");
    r.body = json::serialize(*member);
    r.headers["content-type"] = "application/json";
  }
  return BatchItem{op == "put" ? WriteKind::kPut : WriteKind::kDelete, *id, std::move(r), member,
                   lineage};
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
  // sync asks for minimal results: it reads each item's status and problem only, and the
  // member documents were most of the response (rendered, parsed back here, sent, parsed). The
  // idempotency records then keep no copy of the member either.
  bool minimal = prefersMinimal(req.header("prefer"));
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
    auto prepared =
        prepareWrite(one->kind, one->memberId, one->request, WriteParts{one->member, one->lineage});
    if (auto* early = std::get_if<ApiResponse>(&prepared)) {
      responses[i] = std::move(*early);
      continue;
    }
    writes.push_back(std::move(std::get<StoreWrite>(prepared)));
    writes.back().minimalResponse = minimal;
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
  ApiResponse out{200,
                  {{"Content-Type", "application/json"}},
                  json::serialize(json::object{{"results", std::move(results)}})};
  if (minimal) out.headers.emplace_back("Preference-Applied", "return=minimal");
  return out;
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
                                                              const ApiRequest& req,
                                                              WriteParts parsed) const {
  if (req.body.size() > opts_.maxBodyBytes) {
    return problem(413, "payload-too-large", "Payload too large", "the body exceeds the limit");
  }
  StoreWrite w;
  w.kind = kind;
  w.nowMs = clock_.nowMs();
  int64_t today = clock_.todayDays();

  std::optional<json::value> own;  // the body parsed here, when it did not come parsed
  const json::value* body = parsed.body;
  if (kind != WriteKind::kDelete && !body) {
    auto doc = parseJson(req.body);
    if (!doc.isOk()) {
      return problem(400, "malformed-json", "Malformed JSON", "the body is not valid JSON");
    }
    own = std::move(doc).value();
    body = &*own;
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
  if (parsed.lineage) {
    w.lineage = *parsed.lineage;
  } else if (auto lin = req.header("x-lineage"); !lin.empty()) {
    if (auto v = parseJson(lin); v.isOk() && v->is_object()) w.lineage = v->get_object();
  }
  return w;
}

ApiResponse MemberApi::finishWrite(const StoreWrite& w, const Result<WriteOutcome>& out) const {
  // The response of a write that took effect, the first time and when its key replays it.
  auto render = [location = "/member/" + w.memberId, withMember = !w.minimalResponse](
                    WriteResult result, const std::optional<StoredMember>& m,
                    bool memberKept = true) {
    ApiResponse r{result == WriteResult::kCreated ? 201 : 200, {}, {}};
    if (result == WriteResult::kDeleted) {
      r.status = 204;
      return r;
    }
    if (m) {
      if (withMember && memberKept) {
        r.body = json::serialize(storedMemberJson(*m));
        r.headers.emplace_back("Content-Type", "application/json");
      }
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
      // A repeat answers as the first response did: without the member if that one had none.
      ApiResponse r = render(o.replayed, o.member, !o.replayedMinimal);
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

}  // namespace memberflow::api
