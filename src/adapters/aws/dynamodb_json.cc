#include "adapters/aws/dynamodb_json.h"

#include <cstdlib>
#include <limits>

namespace memberflow::aws {
namespace {

std::string getS(const json::object& item, const char* k) {
  const json::value* v = field(item, k);
  return v && v->is_object() ? stringField(v->get_object(), "S").value_or("") : "";
}
int64_t getN(const json::object& item, const char* k) {
  const json::value* v = field(item, k);
  return v && v->is_object() ? std::atoll(stringField(v->get_object(), "N").value_or("0").c_str())
                             : 0;
}

// A 2xx body that is not what the protocol says is an error of the call, never an exception.
Status malformed(const char* action) {
  return Status::internal(std::string("dynamodb ") + action + ": malformed response");
}

// Seconds to milliseconds, saturating: an expiry too far out for int64 milliseconds is never.
int64_t secondsToMs(int64_t s) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max(),
                    kMin = std::numeric_limits<int64_t>::min();
  if (s > kMax / 1000) return kMax;
  if (s < kMin / 1000) return kMin;
  return s * 1000;
}

// A ledger item's entry (absent attributes read as empty or 0).
Result<LedgerEntry> entryFrom(const json::object& it, const std::string& messageId) {
  LedgerEntry e;
  e.outcome.messageId = messageId;
  auto outcome = messageOutcomeNamed(getS(it, "outcome"));
  if (!outcome) return Status::internal("ledger item with an unknown outcome");
  e.outcome.outcome = *outcome;
  e.outcome.reason = getS(it, "reason");
  e.outcome.archiveKey = getS(it, "archiveKey");
  e.outcome.archiveLine = getN(it, "archiveLine");
  e.claimedAtMs = getN(it, "claimedAt");
  e.completedAtMs = getN(it, "completedAt");
  e.expiresAtMs = secondsToMs(getN(it, "expiresAt"));
  return e;
}

}  // namespace

Result<LedgerEntry> parseLedgerItem(const json::value& response, const std::string& messageId) {
  if (!response.is_object()) return malformed("GetItem");
  const json::value* item = field(response.get_object(), "Item");
  if (!item || !item->is_object()) return Status::notFound("message id not in the ledger");
  return entryFrom(item->get_object(), messageId);
}

Result<LedgerEntry> parseLedgerEntry(const json::object& item) {
  return entryFrom(item, getS(item, "messageId"));
}

Result<LedgerScanPage> parseLedgerScanPage(const json::value& response) {
  LedgerScanPage page;
  if (!response.is_object()) return malformed("Scan");
  const auto& o = response.get_object();
  if (const json::value* items = field(o, "Items"); items && items->is_array()) {
    for (const auto& it : items->get_array()) {
      if (!it.is_object()) return malformed("Scan");
      page.messageIds.push_back(getS(it.get_object(), "messageId"));
    }
  }
  if (const json::value* last = field(o, "LastEvaluatedKey"); last && !last->is_null()) {
    // A key to start the next page from is an item key: anything else would go back to
    // DynamoDB as ExclusiveStartKey.
    if (!last->is_object()) return malformed("Scan");
    page.lastEvaluatedKey = *last;
  }
  return page;
}

Result<BatchGetPage> parseBatchGetPage(const json::value& response, const std::string& table) {
  BatchGetPage page;
  if (!response.is_object()) return malformed("BatchGetItem");
  const auto& o = response.get_object();
  if (const json::value* resp = field(o, "Responses"); resp && resp->is_object()) {
    if (const json::value* items = field(resp->get_object(), table); items && items->is_array()) {
      for (const auto& it : items->get_array()) {
        if (!it.is_object()) return malformed("BatchGetItem");
        page.items.push_back(it.get_object());
      }
    }
  }
  if (const json::value* rest = field(o, "UnprocessedKeys");
      rest && rest->is_object() && !rest->get_object().empty()) {
    page.unprocessed = *rest;
  }
  return page;
}

Result<std::vector<json::object>> batchGetItems(const std::string& table, json::array keys,
                                                int maxAttempts, const BatchGetSend& send,
                                                const std::function<void(int attempt)>& backoff) {
  std::vector<json::object> out;
  if (keys.empty()) return out;
  if (keys.size() > kBatchGetMaxKeys) {
    return Status::invalidArgument("dynamodb BatchGetItem: more than 100 keys");
  }
  json::value request =
      json::object{{table, json::object{{"Keys", std::move(keys)}, {"ConsistentRead", true}}}};
  for (int attempt = 1;; ++attempt) {
    auto r = send(json::object{{"RequestItems", request}});
    if (!r.isOk()) return r.status();
    auto page = parseBatchGetPage(*r, table);
    if (!page.isOk()) return page.status();
    for (auto& it : page->items) out.push_back(std::move(it));
    if (page->unprocessed.is_null()) return out;
    if (attempt >= maxAttempts) {
      return Status::unavailable("dynamodb BatchGetItem kept returning unprocessed keys");
    }
    request = std::move(page->unprocessed);  // what was left (it keeps ConsistentRead)
    backoff(attempt);
  }
}

}  // namespace memberflow::aws
