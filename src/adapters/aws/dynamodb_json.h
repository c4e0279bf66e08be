// File: dynamodb_json.h
// DynamoDB's JSON responses for the ledger table read into plain values: GetItem and Scan.
// Pure functions, no I/O, so the DynamoDB adapter's parsing is fuzzed alone (fuzz_dynamodb).
// Each takes the response body as AwsClient::json returns it and returns Internal when it is
// not what the protocol describes (no exception escapes).
#pragma once

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

// One page of a Scan projected on messageId.
struct LedgerScanPage {
  std::vector<std::string> messageIds;  // one per item, in order
  json::value lastEvaluatedKey;         // where the next page starts; null on the last page
};
Result<LedgerScanPage> parseLedgerScanPage(const json::value& response);

}  // namespace memberflow::aws
