// File: sqlite_member_store.h
// The embedded member store: members (tombstones included), history, outbox and idempotency
// keys in one SQLite database. Every write is atomic and durable when apply() returns. Writes
// that arrive together share one transaction (group commit): each runs in its own SAVEPOINT,
// so a failing write rolls back alone, and all callers return after the one COMMIT.
#pragma once

#include <condition_variable>
#include <deque>
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
  // One transaction for the lot (with the writes other threads queued meanwhile).
  std::vector<Result<WriteOutcome>> applyAll(const std::vector<const StoreWrite*>& writes) override;
  Result<StoredMember> get(const std::string& memberId) override;
  Result<std::vector<HistoryEntry>> history(const std::string& memberId) override;
  Result<MemberPage> listUpdated(int64_t sinceMs, const std::string& cursor, size_t limit) override;
  Result<std::vector<OutboxEntry>> outbox(size_t limit) override;
  Result<int64_t> outboxCount() override;
  Status deleteOutbox(const std::vector<int64_t>& seqs) override;
  Result<std::vector<HistoryRow>> scanHistory(int64_t afterSeq, size_t limit) override;
  Result<int64_t> historyHighWater() override;
  Result<std::vector<WriteOutcomeRow>> outcomesOf(const std::string& memberId) override;
  Result<std::vector<WriteOutcomeRow>> scanOutcomes(int64_t afterSeq, size_t limit) override;
  // secure_delete is on for the transaction, so deleted bytes are overwritten in the file;
  // the WAL still holds them until scrubDatabase (sqlite.h) checkpoints it.
  Result<MemberErasure> erase(const std::string& memberId, int64_t nowMs) override;
  Status recordErasure(const ErasureRecord& record) override;
  Result<std::vector<ErasureRecord>> erasures(const std::string& memberId) override;
  Status ping() override;

 private:
  // Creates the tables and indexes, and rebuilds what an earlier release made differently
  // (sqlite_member_store_schema.cc).
  static Status prepareSchema(SqliteDb& db);
  SqliteMemberStore(std::unique_ptr<SqliteDb> db, Options opts) : db_(std::move(db)), opts_(opts) {}
  struct Pending {
    explicit Pending(const StoreWrite* w) : write(w) {}  // built in place: no moved temporary
    const StoreWrite* write;
    Result<WriteOutcome> outcome{Status::internal("not applied")};
    bool done = false;
  };
  void commitGroup(std::vector<Pending*>& group);
  // Queues the writes and commits queued groups (leading, or waiting for the leader) until
  // they are all done.
  void applyQueued(std::vector<Pending>& mine);
  Result<WriteOutcome> applyLocked(const StoreWrite& w);
  Result<std::optional<StoredMember>> load(const std::string& memberId);

  // Group commit: writers queue here, a call's writes (a batch) as one entry; one of them (the
  // leader) commits what is queued, whole batches only: a batch is never split over two
  // transactions.
  std::mutex queueMu_;
  std::condition_variable queueCv_;
  std::deque<std::vector<Pending>*> queue_;
  bool leaderActive_ = false;

  std::mutex mu_;  // the connection
  std::unique_ptr<SqliteDb> db_;
  Options opts_;
  uint64_t writes_ = 0;
};

}  // namespace memberflow::embedded
