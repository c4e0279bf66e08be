#include "adapters/aws/dynamodb_ledger.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "adapters/aws/dynamodb_json.h"
#include "common/backoff.h"
#include "common/lookup.h"

namespace memberflow::aws {
namespace {

// Runs fn(0..n-1) on up to `workers` threads; the first failure wins. A conditional write
// cannot be batched (BatchWriteItem has no conditions; a transaction fails as a whole), so
// the items of one batch go out concurrently instead of one round trip after another.
template <typename F>
Status forEachConcurrently(size_t n, size_t workers, F&& fn) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first = Status::ok();
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) {
      Status s = fn(i);
      if (!s.isOk()) {
        std::lock_guard lock(mu);
        if (first.isOk()) first = s;
        next = n;  // stop handing out items
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < std::min(n, workers); ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  return first;
}

json::object S(const std::string& v) { return json::object{{"S", v}}; }
json::object N(int64_t v) { return json::object{{"N", std::to_string(v)}}; }

// Tries of a BatchGetItem request while keys are left unprocessed, backing off in between.
const BackoffPolicy kUnprocessedRetry{20, 1000, 10};

}  // namespace

void DynamoDbLedger::backoff(int attempt) {
  int64_t ms = 0;
  {
    std::lock_guard lock(rngMu_);
    ms = fullJitterDelayMs(kUnprocessedRetry, attempt, rng_);
  }
  clock_.sleepFor(std::chrono::milliseconds(ms), {});
}

Result<json::value> DynamoDbLedger::call(const std::string& op, json::object body) {
  body["TableName"] = table_;
  return client_.json("dynamodb", "DynamoDB_20120810." + op, body, "application/x-amz-json-1.0");
}

Status DynamoDbLedger::ensureTable() {
  auto r = call(
      "CreateTable",
      json::object{{"AttributeDefinitions", json::array{json::object{{"AttributeName", "messageId"},
                                                                     {"AttributeType", "S"}}}},
                   {"KeySchema",
                    json::array{json::object{{"AttributeName", "messageId"}, {"KeyType", "HASH"}}}},
                   {"BillingMode", "PAY_PER_REQUEST"}});
  if (r.isOk() || r.status().reason().find("ResourceInUse") != std::string::npos) {
    auto ttl =
        call("UpdateTimeToLive",
             json::object{{"TimeToLiveSpecification",
                           json::object{{"Enabled", true}, {"AttributeName", "expiresAt"}}}});
    (void)ttl;  // TTL is configuration: already on, or not supported by the emulator
    return Status::ok();
  }
  return r.status();
}

Result<std::vector<ClaimState>> DynamoDbLedger::claim(const std::vector<std::string>& ids,
                                                      int64_t nowMs) {
  std::vector<ClaimState> out(ids.size());
  Status s = forEachConcurrently(ids.size(), kConcurrency, [&](size_t i) -> Status {
    const std::string& id = ids[i];
    // expiresAt is in seconds (DynamoDB TTL); an expired entry counts as absent.
    auto r =
        call("PutItem",
             json::object{
                 {"Item", json::object{{"messageId", S(id)},
                                       {"claimedAt", N(nowMs)},
                                       {"completedAt", N(0)},
                                       {"expiresAt", N((nowMs + ttlMs_) / 1000)}}},
                 {"ConditionExpression", "attribute_not_exists(messageId) OR expiresAt <= :now"},
                 {"ExpressionAttributeValues", json::object{{":now", N(nowMs / 1000)}}}});
    if (r.isOk()) {
      out[i] = ClaimState::kClaimed;
      return Status::ok();
    }
    if (r.status().code() != Code::kAlreadyExists) return r.status();
    auto e = get(id);
    if (!e.isOk()) return e.status();
    out[i] = e->completedAtMs != 0 ? ClaimState::kDone : ClaimState::kPending;
    return Status::ok();
  });
  if (!s.isOk()) return s;
  return out;
}

Status DynamoDbLedger::complete(const std::vector<LedgerOutcome>& outcomes, int64_t nowMs) {
  return forEachConcurrently(outcomes.size(), kConcurrency, [&](size_t i) -> Status {
    const LedgerOutcome& o = outcomes[i];
    auto r = call(
        "UpdateItem",
        json::object{
            {"Key", json::object{{"messageId", S(o.messageId)}}},
            {"UpdateExpression",
             "SET completedAt = :t, outcome = :o, reason = :r, archiveKey = :k, archiveLine = :l"},
            {"ConditionExpression", "completedAt = :zero"},
            {"ExpressionAttributeValues", json::object{{":t", N(nowMs)},
                                                       {":o", S(std::string(name(o.outcome)))},
                                                       {":r", S(o.reason)},
                                                       {":k", S(o.archiveKey)},
                                                       {":l", N(o.archiveLine)},
                                                       {":zero", N(0)}}}});
    if (!r.isOk() && r.status().code() != Code::kAlreadyExists)
      return r.status();  // first outcome stays
    return Status::ok();
  });
}

Result<LedgerEntry> DynamoDbLedger::get(const std::string& messageId) {
  auto r = call("GetItem", json::object{{"Key", json::object{{"messageId", S(messageId)}}},
                                        {"ConsistentRead", true}});
  if (!r.isOk()) return r.status();
  return parseLedgerItem(*r, messageId);
}

Result<std::vector<std::optional<LedgerEntry>>> DynamoDbLedger::getMany(
    const std::vector<std::string>& ids) {
  std::vector<std::string> distinct;  // each id once: BatchGetItem refuses a key named twice
  {
    std::unordered_set<std::string> seen;
    for (const auto& id : ids) {
      if (!id.empty() && seen.insert(id).second) distinct.push_back(id);
    }
  }
  const size_t requests = (distinct.size() + kBatchGetMaxKeys - 1) / kBatchGetMaxKeys;
  std::vector<std::vector<json::object>> items(requests);
  Status s = forEachConcurrently(requests, kConcurrency, [&](size_t r) -> Status {
    json::array keys;
    for (size_t i = r * kBatchGetMaxKeys; i < std::min(distinct.size(), (r + 1) * kBatchGetMaxKeys);
         ++i) {
      keys.push_back(json::object{{"messageId", S(distinct[i])}});
    }
    auto got = batchGetItems(
        table_, std::move(keys), kUnprocessedRetry.maxAttempts,
        [&](const json::object& body) {
          return client_.json("dynamodb", "DynamoDB_20120810.BatchGetItem", body,
                              "application/x-amz-json-1.0");
        },
        [&](int attempt) { backoff(attempt); });
    if (!got.isOk()) return got.status();
    items[r] = std::move(got).value();
    return Status::ok();
  });
  if (!s.isOk()) return s;
  std::unordered_map<std::string, LedgerEntry> found;
  for (const auto& request : items) {
    for (const auto& item : request) {
      auto e = parseLedgerEntry(item);
      if (!e.isOk()) return e.status();
      std::string id = e->outcome.messageId;
      found.emplace(std::move(id), std::move(e).value());
    }
  }
  return inKeyOrder(ids, found);
}

Result<size_t> DynamoDbLedger::purgeExpired(int64_t nowMs) {
  // DynamoDB's TTL removes expired items by itself (within days); this sweep is for
  // operators and emulators that keep them.
  size_t removed = 0;
  json::value start;
  for (;;) {
    json::object req{{"FilterExpression", "expiresAt <= :now"},
                     {"ExpressionAttributeValues", json::object{{":now", N(nowMs / 1000)}}},
                     {"ProjectionExpression", "messageId"}};
    if (!start.is_null()) req["ExclusiveStartKey"] = start;
    auto r = call("Scan", req);
    if (!r.isOk()) return r.status();
    auto page = parseLedgerScanPage(*r);
    if (!page.isOk()) return page.status();
    for (const auto& id : page->messageIds) {
      auto d = call("DeleteItem", json::object{{"Key", json::object{{"messageId", S(id)}}}});
      if (!d.isOk()) return d.status();
      ++removed;
    }
    if (page->lastEvaluatedKey.is_null()) break;
    start = std::move(page->lastEvaluatedKey);
  }
  return removed;
}

}  // namespace memberflow::aws
