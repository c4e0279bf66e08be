// The DynamoDB parking store (dynamodb_parking_store.h). Over 500 lines on purpose: every method
// is a version-conditioned transaction on the same member item layout (keys, padded seqs, the
// unparked marker), which is private to this file.
#include "adapters/aws/dynamodb_parking_store.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <unordered_map>

#include "adapters/aws/dynamodb_json.h"
#include "common/backoff.h"
#include "common/lookup.h"

namespace memberflow::aws {
namespace {

constexpr const char* kMemberSk = "#member";
constexpr const char* kHeldPrefix = "h#";
constexpr const char* kParked = "parked";
constexpr const char* kReleased = "released";
// A member done() unparked: its item stays, without parkedAt, dead change and reason, and keeps
// the seq counters, so a later parking goes on from them. Not parked for every method.
constexpr const char* kUnparked = "unparked";
constexpr size_t kTransactItems = 100;  // TransactWriteItems' limit
// A held item's own bytes, with room left for its names and keys within DynamoDB's 400 KB.
constexpr size_t kMaxChangeBytes = 350 * 1024;
// Tries of a write that lost a race (or of unprocessed keys), backing off in between.
const BackoffPolicy kRetry{20, 1000, 10};

json::object S(const std::string& v) { return json::object{{"S", v}}; }
json::object N(int64_t v) { return json::object{{"N", std::to_string(v)}}; }

// "h#" + the seq offset by 2^63 as 20 digits: string order is seq order, negative seqs first.
std::string heldSk(int64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%020" PRIu64, kHeldPrefix,
                static_cast<uint64_t>(seq) ^ (uint64_t{1} << 63));
  return buf;
}

json::object itemKey(const std::string& memberId, const std::string& sk) {
  return json::object{{"memberId", S(memberId)}, {"sk", S(sk)}};
}

std::string getS(const json::object& item, const char* k) {
  const json::value* v = field(item, k);
  return v && v->is_object() ? stringField(v->get_object(), "S").value_or("") : "";
}

int64_t getN(const json::object& item, const char* k) {
  const json::value* v = field(item, k);
  if (!v || !v->is_object()) return 0;
  auto s = stringField(v->get_object(), "N");
  return s ? std::strtoll(s->c_str(), nullptr, 10) : 0;
}

Status malformed(const char* action) {
  return Status::internal(std::string("dynamodb ") + action + ": malformed response");
}

// A transaction cancelled by a failed condition or a concurrent transaction on its items, or a
// write that met a transaction in progress: read again and retry.
bool lostARace(const Status& s) {
  return s.reason() == "TransactionCanceledException" ||
         s.reason() == "TransactionConflictException";
}

ParkedChange changeFrom(const json::object& item) {
  ParkedChange c;
  c.seq = getN(item, "seq");
  c.messageId = getS(item, "messageId");
  c.body = getS(item, "body");
  c.heldAtMs = getN(item, "heldAt");
  if (const json::value* a = field(item, "attributes"); a && a->is_object()) {
    if (const json::value* m = field(a->get_object(), "M"); m && m->is_object()) {
      for (const auto& kv : m->get_object()) {
        if (kv.value().is_object()) {
          c.attributes[std::string(kv.key())] =
              stringField(kv.value().get_object(), "S").value_or("");
        }
      }
    }
  }
  return c;
}

json::object heldItem(const std::string& memberId, int64_t seq, const ParkedChange& c,
                      int64_t nowMs) {
  json::object attrs;
  for (const auto& [k, v] : c.attributes) attrs[k] = S(v);
  return json::object{{"memberId", S(memberId)}, {"sk", S(heldSk(seq))},
                      {"seq", N(seq)},           {"messageId", S(c.messageId)},
                      {"body", S(c.body)},       {"attributes", json::object{{"M", attrs}}},
                      {"heldAt", N(nowMs)}};
}

// The items of one page of a Query or Scan; Internal when the page is not one.
Result<const json::array*> pageItems(const json::value& r, const char* action) {
  static const json::array kNone;
  if (!r.is_object()) return malformed(action);
  const json::value* items = field(r.get_object(), "Items");
  if (!items) return &kNone;
  if (!items->is_array()) return malformed(action);
  for (const auto& it : items->get_array()) {
    if (!it.is_object()) return malformed(action);
  }
  return &items->get_array();
}

// Where the next page starts; null on the last page.
json::value lastKey(const json::value& r) {
  const json::value* last = field(r.get_object(), "LastEvaluatedKey");
  return last && last->is_object() ? *last : json::value();
}

ParkedMember memberFrom(const json::object& it) {
  ParkedMember m;
  m.memberId = getS(it, "memberId");
  m.state = getS(it, "state") == kReleased ? ParkedMember::State::kReleased
                                           : ParkedMember::State::kParked;
  m.deadMessageId = getS(it, "deadMessageId");
  m.reason = getS(it, "reason");
  m.parkedAtMs = getN(it, "parkedAt");
  return m;
}

bool olderFirst(const ParkedMember& a, const ParkedMember& b) {
  return a.parkedAtMs != b.parkedAtMs ? a.parkedAtMs < b.parkedAtMs : a.memberId < b.memberId;
}

}  // namespace

Result<json::value> DynamoDbParkingStore::call(const std::string& op, json::object body) {
  return client_.json("dynamodb", "DynamoDB_20120810." + op, body, "application/x-amz-json-1.0");
}

Status DynamoDbParkingStore::transact(json::array items) {
  return call("TransactWriteItems", json::object{{"TransactItems", std::move(items)}}).status();
}

void DynamoDbParkingStore::backoff(int attempt) {
  int64_t ms = 0;
  {
    std::lock_guard lock(rngMu_);
    ms = fullJitterDelayMs(kRetry, attempt, rng_);
  }
  clock_.sleepFor(std::chrono::milliseconds(ms), {});
}

Result<bool> DynamoDbParkingStore::retryingConflicts(const std::function<Result<bool>()>& attempt) {
  for (int i = 1;; ++i) {
    auto r = attempt();
    if (r.isOk() || !lostARace(r.status())) return r;
    if (i >= kRetry.maxAttempts) {
      return Status::unavailable("parking: the member's items kept changing: " +
                                 r.status().toString());
    }
    backoff(i);
  }
}

Status DynamoDbParkingStore::ensureTable() {
  auto r = call(
      "CreateTable",
      json::object{{"TableName", table_},
                   {"AttributeDefinitions",
                    json::array{json::object{{"AttributeName", "memberId"}, {"AttributeType", "S"}},
                                json::object{{"AttributeName", "sk"}, {"AttributeType", "S"}}}},
                   {"KeySchema",
                    json::array{json::object{{"AttributeName", "memberId"}, {"KeyType", "HASH"}},
                                json::object{{"AttributeName", "sk"}, {"KeyType", "RANGE"}}}},
                   {"BillingMode", "PAY_PER_REQUEST"}});
  if (r.isOk() || r.status().reason().find("ResourceInUse") != std::string::npos) {
    return Status::ok();
  }
  return r.status();
}

Result<std::optional<DynamoDbParkingStore::MemberItem>> DynamoDbParkingStore::getMember(
    const std::string& memberId) {
  auto r = call("GetItem", json::object{{"TableName", table_},
                                        {"Key", itemKey(memberId, kMemberSk)},
                                        {"ConsistentRead", true}});
  if (!r.isOk()) return r.status();
  if (!r->is_object()) return malformed("GetItem");
  const json::value* item = field(r->get_object(), "Item");
  if (!item || !item->is_object()) return std::optional<MemberItem>();
  const auto& it = item->get_object();
  if (getS(it, "state") == kUnparked) return std::optional<MemberItem>();
  MemberItem m;
  m.member = memberFrom(it);
  m.nextSeq = getN(it, "nextSeq");
  m.headSeq = getN(it, "headSeq");
  m.version = getN(it, "version");
  return std::optional<MemberItem>(std::move(m));
}

Result<std::vector<json::object>> DynamoDbParkingStore::queryHeld(const std::string& memberId,
                                                                  size_t max,
                                                                  const json::object& extra) {
  std::vector<json::object> out;
  json::value start;
  while (out.size() < max) {
    json::object req = extra;
    req["TableName"] = table_;
    req["KeyConditionExpression"] = "memberId = :m AND begins_with(sk, :h)";
    req["ExpressionAttributeValues"] = json::object{{":m", S(memberId)}, {":h", S(kHeldPrefix)}};
    req["ConsistentRead"] = true;
    req["Limit"] = static_cast<int64_t>(std::min<size_t>(max - out.size(), 1000));
    if (!start.is_null()) req["ExclusiveStartKey"] = start;
    auto r = call("Query", std::move(req));
    if (!r.isOk()) return r.status();
    auto items = pageItems(*r, "Query");
    if (!items.isOk()) return items.status();
    for (const auto& it : **items) out.push_back(it.get_object());
    start = lastKey(*r);
    if (start.is_null()) break;
  }
  return out;
}

Result<int64_t> DynamoDbParkingStore::countHeld(const std::string& memberId) {
  int64_t n = 0;
  json::value start;
  for (;;) {
    json::object req{
        {"TableName", table_},
        {"KeyConditionExpression", "memberId = :m AND begins_with(sk, :h)"},
        {"ExpressionAttributeValues", json::object{{":m", S(memberId)}, {":h", S(kHeldPrefix)}}},
        {"ConsistentRead", true},
        {"Select", "COUNT"}};
    if (!start.is_null()) req["ExclusiveStartKey"] = start;
    auto r = call("Query", std::move(req));
    if (!r.isOk()) return r.status();
    if (!r->is_object()) return malformed("Query");
    n += intField(r->get_object(), "Count").value_or(0);
    start = lastKey(*r);
    if (start.is_null()) return n;
  }
}

Result<std::vector<DynamoDbParkingStore::HeldKey>> DynamoDbParkingStore::heldKeys(
    const std::string& memberId) {
  auto items = queryHeld(
      memberId, SIZE_MAX,
      json::object{{"ProjectionExpression", "#q, #m"},
                   {"ExpressionAttributeNames", json::object{{"#q", "seq"}, {"#m", "messageId"}}}});
  if (!items.isOk()) return items.status();
  std::vector<HeldKey> out;
  out.reserve(items->size());
  for (const auto& it : *items) out.push_back({getN(it, "seq"), getS(it, "messageId")});
  return out;
}

Result<std::vector<DynamoDbParkingStore::MemberItem>> DynamoDbParkingStore::scanMembers(
    bool releasedOnly) {
  std::vector<MemberItem> out;
  json::value start;
  for (;;) {
    json::object values{{":m", S(kMemberSk)}};
    json::object req{{"TableName", table_},
                     {"ConsistentRead", true},
                     {"ExpressionAttributeNames", json::object{{"#s", "state"}}}};
    if (releasedOnly) {
      req["FilterExpression"] = "sk = :m AND #s = :rel";
      values[":rel"] = S(kReleased);
    } else {
      req["FilterExpression"] = "sk = :m AND #s <> :unparked";
      values[":unparked"] = S(kUnparked);
    }
    req["ExpressionAttributeValues"] = std::move(values);
    if (!start.is_null()) req["ExclusiveStartKey"] = start;
    auto r = call("Scan", std::move(req));
    if (!r.isOk()) return r.status();
    auto items = pageItems(*r, "Scan");
    if (!items.isOk()) return items.status();
    for (const auto& v : **items) {
      MemberItem m;
      m.member = memberFrom(v.get_object());
      out.push_back(std::move(m));
    }
    start = lastKey(*r);
    if (start.is_null()) break;
  }
  std::sort(out.begin(), out.end(), [](const MemberItem& a, const MemberItem& b) {
    return olderFirst(a.member, b.member);
  });
  return out;
}

Status DynamoDbParkingStore::park(const std::string& memberId, const std::string& deadMessageId,
                                  const std::string& reason, int64_t nowMs) {
  // One UpdateItem: creates the member item or parks it again. parkedAt and the seq counters
  // stay when it exists (its held changes keep their seqs); the version moves, so a hold,
  // release or done that read the item before is tried again. An unparked member's item has no
  // parkedAt (this parking's time is taken) but its counters: a seq a drain of an earlier
  // parking removed is never handed out again, so that drain's late done() removes nothing.
  return call("UpdateItem",
              json::object{{"TableName", table_},
                           {"Key", itemKey(memberId, kMemberSk)},
                           {"UpdateExpression",
                            "SET #s = :parked, #d = :d, #r = :r, #p = if_not_exists(#p, :now),"
                            " #n = if_not_exists(#n, :one), #h = if_not_exists(#h, :zero)"
                            " ADD #v :one"},
                           {"ExpressionAttributeNames", json::object{{"#s", "state"},
                                                                     {"#d", "deadMessageId"},
                                                                     {"#r", "reason"},
                                                                     {"#p", "parkedAt"},
                                                                     {"#n", "nextSeq"},
                                                                     {"#h", "headSeq"},
                                                                     {"#v", "version"}}},
                           {"ExpressionAttributeValues", json::object{{":parked", S(kParked)},
                                                                      {":d", S(deadMessageId)},
                                                                      {":r", S(reason)},
                                                                      {":now", N(nowMs)},
                                                                      {":one", N(1)},
                                                                      {":zero", N(0)}}}})
      .status();
}

Result<std::vector<std::optional<ParkedMember>>> DynamoDbParkingStore::state(
    const std::vector<std::string>& memberIds) {
  // BatchGetItem refuses a request that names a key twice, and DynamoDB an empty key: ask for
  // each non-empty id once.
  std::vector<std::string> ids;
  {
    std::set<std::string> seen;
    for (const auto& id : memberIds) {
      if (!id.empty() && seen.insert(id).second) ids.push_back(id);
    }
  }
  std::unordered_map<std::string, ParkedMember> found;
  for (size_t from = 0; from < ids.size(); from += kBatchGetMaxKeys) {
    json::array keys;
    for (size_t i = from; i < std::min(ids.size(), from + kBatchGetMaxKeys); ++i) {
      keys.push_back(itemKey(ids[i], kMemberSk));
    }
    auto items = batchGetItems(
        table_, std::move(keys), kRetry.maxAttempts,
        [this](const json::object& body) { return call("BatchGetItem", body); },
        [this](int attempt) { backoff(attempt); });
    if (!items.isOk()) return items.status();
    for (const auto& it : *items) {
      if (getS(it, "state") == kUnparked) continue;
      ParkedMember m = memberFrom(it);
      found[m.memberId] = std::move(m);
    }
  }
  for (auto& [id, m] : found) {
    auto n = countHeld(id);
    if (!n.isOk()) return n.status();
    m.held = *n;
  }
  return inKeyOrder(memberIds, found);
}

Status DynamoDbParkingStore::hold(const std::string& memberId,
                                  const std::vector<ParkedChange>& changes, int64_t nowMs) {
  if (changes.size() > kMaxHold) {
    return Status::invalidArgument("parking: at most " + std::to_string(kMaxHold) +
                                   " changes per hold on DynamoDB");
  }
  for (const auto& c : changes) {
    size_t bytes = c.messageId.size() + c.body.size();
    for (const auto& [k, v] : c.attributes) bytes += k.size() + v.size();
    if (bytes > kMaxChangeBytes) {
      return Status::invalidArgument("parking: a held change exceeds a DynamoDB item");
    }
  }
  auto attempt = [&]() -> Result<bool> {
    auto m = getMember(memberId);
    if (!m.isOk()) return m.status();
    if (!*m) return Status::failedPrecondition("member is not parked");
    auto keys = heldKeys(memberId);
    if (!keys.isOk()) return keys.status();
    std::set<std::string> seen;
    for (const auto& k : *keys) seen.insert(k.messageId);
    int64_t next = (*m)->nextSeq;
    json::array items;
    items.push_back(json::value());  // the member item's update, below
    for (const auto& c : changes) {
      if (!seen.insert(c.messageId).second) continue;  // held already: a redelivery
      items.push_back(
          json::object{{"Put", json::object{{"TableName", table_},
                                            {"Item", heldItem(memberId, next, c, nowMs)},
                                            {"ConditionExpression", "attribute_not_exists(sk)"}}}});
      ++next;
    }
    if (items.size() == 1) return true;  // nothing new
    items[0] = json::object{
        {"Update",
         json::object{
             {"TableName", table_},
             {"Key", itemKey(memberId, kMemberSk)},
             {"UpdateExpression", "SET #n = :next ADD #v :one"},
             {"ConditionExpression", "#v = :v"},
             {"ExpressionAttributeNames", json::object{{"#n", "nextSeq"}, {"#v", "version"}}},
             {"ExpressionAttributeValues",
              json::object{{":next", N(next)}, {":one", N(1)}, {":v", N((*m)->version)}}}}}};
    MF_RETURN_IF_ERROR(transact(std::move(items)));
    return true;
  };
  return retryingConflicts(attempt).status();
}

Status DynamoDbParkingStore::release(const std::string& memberId,
                                     const std::optional<ParkedChange>& head, int64_t nowMs) {
  auto attempt = [&]() -> Result<bool> {
    auto m = getMember(memberId);
    if (!m.isOk()) return m.status();
    if (!*m) return Status::notFound("member is not parked");
    bool addHead = head.has_value();
    if (head) {
      auto keys = heldKeys(memberId);
      if (!keys.isOk()) return keys.status();
      for (const auto& k : *keys) addHead = addHead && k.messageId != head->messageId;
    }
    if (!addHead && (*m)->member.state == ParkedMember::State::kReleased) return true;
    json::object names{{"#s", "state"}, {"#v", "version"}};
    json::object values{{":rel", S(kReleased)}, {":one", N(1)}, {":v", N((*m)->version)}};
    std::string update = "SET #s = :rel";
    json::array items;
    items.push_back(json::value());
    if (addHead) {
      // Below every seq handed out: before every held change.
      update += ", #h = :h";
      names["#h"] = "headSeq";
      values[":h"] = N((*m)->headSeq - 1);
      items.push_back(json::object{
          {"Put", json::object{{"TableName", table_},
                               {"Item", heldItem(memberId, (*m)->headSeq, *head, nowMs)},
                               {"ConditionExpression", "attribute_not_exists(sk)"}}}});
    }
    items[0] = json::object{{"Update", json::object{{"TableName", table_},
                                                    {"Key", itemKey(memberId, kMemberSk)},
                                                    {"UpdateExpression", update + " ADD #v :one"},
                                                    {"ConditionExpression", "#v = :v"},
                                                    {"ExpressionAttributeNames", names},
                                                    {"ExpressionAttributeValues", values}}}};
    MF_RETURN_IF_ERROR(transact(std::move(items)));
    return true;
  };
  return retryingConflicts(attempt).status();
}

Status DynamoDbParkingStore::removeHeld(const std::string& memberId,
                                        const std::vector<int64_t>& seqs,
                                        std::optional<int64_t> unparkVersion, bool onlyReleased) {
  auto deleteOf = [&](int64_t seq) {
    return json::object{
        {"Delete", json::object{{"TableName", table_}, {"Key", itemKey(memberId, heldSk(seq))}}}};
  };
  size_t room = unparkVersion ? kTransactItems - 1 : kTransactItems;
  size_t i = 0;
  while (seqs.size() - i > room) {  // more than the last transaction takes: remove first
    json::array items;
    for (size_t end = i + kTransactItems; i < end; ++i) items.push_back(deleteOf(seqs[i]));
    MF_RETURN_IF_ERROR(transact(std::move(items)));
  }
  json::array items;
  for (; i < seqs.size(); ++i) items.push_back(deleteOf(seqs[i]));
  if (unparkVersion) {
    // The item stays as the unparked marker, keeping the seq counters for a later parking.
    json::object values{{":v", N(*unparkVersion)}, {":unparked", S(kUnparked)}, {":one", N(1)}};
    std::string condition = "#v = :v";
    if (onlyReleased) {
      condition += " AND #s = :rel";
      values[":rel"] = S(kReleased);
    }
    items.push_back(json::object{
        {"Update",
         json::object{{"TableName", table_},
                      {"Key", itemKey(memberId, kMemberSk)},
                      {"UpdateExpression", "SET #s = :unparked REMOVE #p, #d, #r ADD #v :one"},
                      {"ConditionExpression", std::move(condition)},
                      {"ExpressionAttributeNames", json::object{{"#v", "version"},
                                                                {"#s", "state"},
                                                                {"#p", "parkedAt"},
                                                                {"#d", "deadMessageId"},
                                                                {"#r", "reason"}}},
                      {"ExpressionAttributeValues", std::move(values)}}}});
  }
  if (items.empty()) return Status::ok();
  return transact(std::move(items));
}

Result<std::vector<ParkedChange>> DynamoDbParkingStore::held(const std::string& memberId,
                                                             size_t max) {
  std::vector<ParkedChange> out;
  if (max == 0) return out;
  auto items = queryHeld(memberId, max, json::object{});
  if (!items.isOk()) return items.status();
  out.reserve(items->size());
  for (const auto& it : *items) out.push_back(changeFrom(it));
  return out;
}

Result<bool> DynamoDbParkingStore::done(const std::string& memberId,
                                        const std::vector<int64_t>& seqs) {
  const std::set<int64_t> want(seqs.begin(), seqs.end());
  return retryingConflicts([&]() -> Result<bool> {
    auto m = getMember(memberId);
    if (!m.isOk()) return m.status();
    auto keys = heldKeys(memberId);
    if (!keys.isOk()) return keys.status();
    std::vector<int64_t> gone;
    size_t left = 0;
    for (const auto& k : *keys) {
      if (want.count(k.seq)) {
        gone.push_back(k.seq);
      } else {
        ++left;
      }
    }
    // Unparks only a released member whose every held change is removed here, on the version
    // read above: a hold or park since then moved it, and the transaction fails.
    bool unpark = *m && (*m)->member.state == ParkedMember::State::kReleased && left == 0;
    MF_RETURN_IF_ERROR(removeHeld(memberId, gone,
                                  unpark ? std::optional<int64_t>((*m)->version) : std::nullopt,
                                  /*onlyReleased=*/true));
    return unpark;
  });
}

Result<int64_t> DynamoDbParkingStore::erase(const std::string& memberId) {
  int64_t removed = 0;
  auto r = retryingConflicts([&]() -> Result<bool> {
    auto m = getMember(memberId);
    if (!m.isOk()) return m.status();
    auto keys = heldKeys(memberId);
    if (!keys.isOk()) return keys.status();
    std::vector<int64_t> seqs;
    seqs.reserve(keys->size());
    for (const auto& k : *keys) seqs.push_back(k.seq);
    // Unparked on the version read above: a hold since then moved it, and this fails.
    MF_RETURN_IF_ERROR(removeHeld(memberId, seqs,
                                  *m ? std::optional<int64_t>((*m)->version) : std::nullopt,
                                  /*onlyReleased=*/false));
    removed = static_cast<int64_t>(keys->size());
    return true;
  });
  if (!r.isOk()) return r.status();
  return removed;
}

Result<std::vector<std::string>> DynamoDbParkingStore::released(size_t max) {
  std::vector<std::string> out;
  if (max == 0) return out;
  auto members = scanMembers(true);
  if (!members.isOk()) return members.status();
  for (const auto& m : *members) {
    if (out.size() == max) break;
    out.push_back(m.member.memberId);
  }
  return out;
}

Result<std::vector<ParkedMember>> DynamoDbParkingStore::list(size_t max) {
  std::vector<ParkedMember> out;
  if (max == 0) return out;
  auto members = scanMembers(false);
  if (!members.isOk()) return members.status();
  for (const auto& m : *members) {
    if (out.size() == max) break;
    out.push_back(m.member);
    auto n = countHeld(m.member.memberId);
    if (!n.isOk()) return n.status();
    out.back().held = *n;
  }
  return out;
}

}  // namespace memberflow::aws
