// File: dynamodb_ledger.h
// Ledger on Amazon DynamoDB: one item per message id; claims are conditional puts
// (attribute_not_exists, or an expired entry), completions conditional updates that keep the
// first outcome; expiresAt is the table's TTL attribute. getMany reads with BatchGetItem.
#pragma once

#include <mutex>
#include <random>

#include "adapters/aws/aws_client.h"
#include "ports/clock.h"
#include "ports/ledger.h"

namespace memberflow::aws {

class DynamoDbLedger final : public Ledger {
 public:
  // `clock` paces the retries of BatchGetItem's unprocessed keys (getMany); by default the
  // system's.
  DynamoDbLedger(AwsClient& client, std::string table, int64_t ttlMs,
                 const Clock& clock = kSystemClock)
      : client_(client), table_(std::move(table)), ttlMs_(ttlMs), clock_(clock) {}
  // Creates the table (on-demand capacity) if absent: tests and local use.
  Status ensureTable();
  Result<std::vector<ClaimState>> claim(const std::vector<std::string>& ids,
                                        int64_t nowMs) override;
  Status complete(const std::vector<LedgerOutcome>& outcomes, int64_t nowMs) override;
  Result<LedgerEntry> get(const std::string& messageId) override;
  // BatchGetItem of 100 ids a request, kConcurrency requests in flight, consistent reads: each
  // id answered as get() answers it (an expired entry DynamoDB has not deleted yet is returned,
  // as get() returns it); an empty id, which DynamoDB cannot store, is nullopt.
  Result<std::vector<std::optional<LedgerEntry>>> getMany(
      const std::vector<std::string>& ids) override;
  Result<size_t> purgeExpired(int64_t nowMs) override;

 private:
  static constexpr size_t kConcurrency = 8;  // requests in flight per claim, complete, getMany
  static inline const SystemClock kSystemClock{};
  Result<json::value> call(const std::string& op, json::object body);
  void backoff(int attempt);
  AwsClient& client_;
  std::string table_;
  int64_t ttlMs_;
  const Clock& clock_;
  std::mutex rngMu_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace memberflow::aws
