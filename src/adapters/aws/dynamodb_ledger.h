// File: dynamodb_ledger.h
// Ledger on Amazon DynamoDB: one item per message id; claims are conditional puts
// (attribute_not_exists, or an expired entry), completions conditional updates that keep the
// first outcome; expiresAt is the table's TTL attribute.
#pragma once

#include "adapters/aws/aws_client.h"
#include "ports/ledger.h"

namespace memberflow::aws {

class DynamoDbLedger final : public Ledger {
 public:
  DynamoDbLedger(AwsClient& client, std::string table, int64_t ttlMs)
      : client_(client), table_(std::move(table)), ttlMs_(ttlMs) {}
  // Creates the table (on-demand capacity) if absent: tests and local use.
  Status ensureTable();
  Result<std::vector<ClaimState>> claim(const std::vector<std::string>& ids,
                                        int64_t nowMs) override;
  Status complete(const std::vector<LedgerOutcome>& outcomes, int64_t nowMs) override;
  Result<LedgerEntry> get(const std::string& messageId) override;
  Result<size_t> purgeExpired(int64_t nowMs) override;

 private:
  static constexpr size_t kConcurrency = 8;  // requests in flight per claim or complete
  Result<json::value> call(const std::string& op, json::object body);
  AwsClient& client_;
  std::string table_;
  int64_t ttlMs_;
};

}  // namespace memberflow::aws
