#include "adapters/aws/dynamodb_json.h"

#include <cstdlib>

namespace memberflow::aws {
namespace {

std::string getS(const json::object& item, const char* k) {
  const json::value* v = field(item, k);
  return v && v->is_object() ? stringField(v->get_object(), "S").value_or("") : "";
}
int64_t getN(const json::object& item, const char* k) {
  const json::value* v = field(item, k);
  return v && v->is_object() ? std::atoll(stringField(v->get_object(), "N").value_or("0").c_str()) : 0;
}

}  // namespace

Result<LedgerEntry> parseLedgerItem(const json::value& response, const std::string& messageId) {
  const json::value* item = field(response.as_object(), "Item");
  if (!item || !item->is_object()) return Status::notFound("message id not in the ledger");
  const auto& it = item->get_object();
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
  e.expiresAtMs = getN(it, "expiresAt") * 1000;
  return e;
}

Result<LedgerScanPage> parseLedgerScanPage(const json::value& response) {
  LedgerScanPage page;
  const auto& o = response.as_object();
  if (const json::value* items = field(o, "Items"); items && items->is_array()) {
    for (const auto& it : items->get_array()) page.messageIds.push_back(getS(it.as_object(), "messageId"));
  }
  if (const json::value* last = field(o, "LastEvaluatedKey")) page.lastEvaluatedKey = *last;
  return page;
}

}  // namespace memberflow::aws
