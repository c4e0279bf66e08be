// File: sqlite_member_store.h
// The embedded member store: members (tombstones included), history, outbox and idempotency
// keys in one SQLite database; every write is one transaction.
#pragma once

#include <memory>
#include <mutex>

#include "adapters/embedded/sqlite.h"
#include "ports/member_store.h"

namespace memberflow::embedded {

class SqliteMemberStore final : public MemberStore {
 public:
  struct Options {
    int64_t idempotencyTtlMs = 24LL * 3600 * 1000;
    SqliteDb::Options db;
  };
  static Result<std::unique_ptr<SqliteMemberStore>> open(const std::string& path,
                                                         const Options& opts);

  Result<WriteOutcome> apply(const StoreWrite& write) override;
  Result<StoredMember> get(const std::string& memberId) override;
  Result<std::vector<HistoryEntry>> history(const std::string& memberId) override;
  Result<MemberPage> listUpdated(int64_t sinceMs, const std::string& cursor,
                                 size_t limit) override;
  Result<std::vector<OutboxEntry>> outbox(size_t limit) override;
  Status deleteOutbox(const std::vector<int64_t>& seqs) override;
  Status ping() override;

 private:
  SqliteMemberStore(std::unique_ptr<SqliteDb> db, Options opts)
      : db_(std::move(db)), opts_(opts) {}
  Result<WriteOutcome> applyLocked(const StoreWrite& w);
  Result<std::optional<StoredMember>> load(const std::string& memberId);

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
  Options opts_;
  uint64_t writes_ = 0;
};

}  // namespace memberflow::embedded
