// File: dynamodb_json.h
// DynamoDB's JSON responses read into plain values: the ledger table's GetItem, Scan and
// BatchGetItem items, and BatchGetItem's responses with the loop over their unprocessed keys
// (shared by the ledger and the parking store). No I/O of their own (batchGetItems sends
// through a function it is given), so the DynamoDB adapter's parsing is fuzzed alone
// (fuzz_dynamodb). Each takes the response body as AwsClient::json returns it and returns
// Internal when it is not what the protocol describes (no exception escapes).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "ports/ledger.h"

namespace memberflow::aws {

// GetItem of messageId: the ledger entry its Item holds (absent attributes read as empty or
// 0; an expiresAt beyond int64 milliseconds reads as the largest). NotFound when the response
// has no Item.
Result<LedgerEntry> parseLedgerItem(const json::value& response, const std::string& messageId);
// One item of the ledger table as BatchGetItem returns it: its entry, messageId read from the
// item, read as parseLedgerItem reads GetItem's.
Result<LedgerEntry> parseLedgerEntry(const json::object& item);

// One page of a Scan projected on messageId.
struct LedgerScanPage {
  std::vector<std::string> messageIds;  // one per item, in order
  json::value lastEvaluatedKey;         // where the next page starts; null on the last page
};
Result<LedgerScanPage> parseLedgerScanPage(const json::value& response);

// One BatchGetItem response for one table.
struct BatchGetPage {
  std::vector<json::object> items;  // the items found, in no particular order
  json::value unprocessed;          // a RequestItems to send again; null when none is left
};
Result<BatchGetPage> parseBatchGetPage(const json::value& response, const std::string& table);

inline constexpr size_t kBatchGetMaxKeys = 100;  // BatchGetItem's limit per request

// BatchGetItem of `keys` of `table` (at most kBatchGetMaxKeys, each once: DynamoDB refuses a
// request that names a key twice), with ConsistentRead: the items found, in no particular
// order. Keys DynamoDB leaves unprocessed (throttling, or a response past its 16 MB) are asked
// for again after backoff(attempt), attempt counting from 1; after maxAttempts requests with
// keys still left, Unavailable. `send` sends one BatchGetItem body and returns the response
// (its errors are returned as they are). InvalidArgument: too many keys.
using BatchGetSend = std::function<Result<json::value>(const json::object& body)>;
Result<std::vector<json::object>> batchGetItems(const std::string& table, json::array keys,
                                                int maxAttempts, const BatchGetSend& send,
                                                const std::function<void(int attempt)>& backoff);

}  // namespace memberflow::aws
