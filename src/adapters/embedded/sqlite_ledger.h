// File: sqlite_ledger.h
// The embedded ledger: one SQLite row per message id, claimed with INSERT OR IGNORE (the
// conditional write), completed with its outcome, expiring after a TTL.
#pragma once

#include <memory>
#include <mutex>

#include "adapters/embedded/sqlite.h"
#include "ports/ledger.h"

namespace memberflow::embedded {

class SqliteLedger final : public Ledger {
 public:
  static Result<std::unique_ptr<SqliteLedger>> open(const std::string& path, int64_t ttlMs,
                                                    const SqliteDb::Options& opts = {});
  Result<std::vector<ClaimState>> claim(const std::vector<std::string>& ids,
                                        int64_t nowMs) override;
  Status complete(const std::vector<LedgerOutcome>& outcomes, int64_t nowMs) override;
  Result<LedgerEntry> get(const std::string& messageId) override;
  // One statement per kGetManyChunk ids (WHERE message_id IN (...)), each id answered as get()
  // answers it.
  Result<std::vector<std::optional<LedgerEntry>>> getMany(
      const std::vector<std::string>& ids) override;
  Result<size_t> purgeExpired(int64_t nowMs) override;

 private:
  // Parameters of one getMany statement, within SQLite's limit (32766 since 3.32, 999 before).
  static constexpr size_t kGetManyChunk = 500;
  SqliteLedger(std::unique_ptr<SqliteDb> db, int64_t ttlMs) : db_(std::move(db)), ttlMs_(ttlMs) {}
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
  int64_t ttlMs_;
};

}  // namespace memberflow::embedded
