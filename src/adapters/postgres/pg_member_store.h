// File: pg_member_store.h
// MemberStore on PostgreSQL (libpq): members (JSONB body plus the queried columns),
// tombstones, history with lineage, outbox and idempotency keys, every write in one
// transaction. Writers of one member are serialised by a transaction-scoped advisory lock on
// the member id (member_rows::kWriterLock), taken before anything is read; every statement
// that writes members runs under it, and any new one must (rows are read without FOR UPDATE,
// pg_member_rows.h). The stale guard, the no-op check and the
// idempotency check then see the previous writer's commit, so two API processes writing the
// same member can neither lose an update nor emit two events for one change (a unique
// violation or serialization failure runs the transaction again). A batch (applyAll) is one
// transaction: it takes the writer locks of all its members first, in lock-key order, sends
// each round's writes as multi-row statements, and a write that fails on its own fails alone
// (a failed multi-row statement runs the batch again a write at a time, which tells the write;
// the batch then runs again without it). The relay claims
// outbox rows with FOR UPDATE SKIP LOCKED and a second advisory lock space per member, so
// several relays share the work without overtaking each other within a member.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "adapters/postgres/pg.h"
#include "ports/member_store.h"

namespace memberflow::postgres {

class PgMemberStore final : public MemberStore {
 public:
  struct Options {
    PoolOptions pool;
    int64_t idempotencyTtlMs = 24LL * 3600 * 1000;
  };
  explicit PgMemberStore(Options o) : opts_(o), pool_(std::move(o.pool)) {}
  ~PgMemberStore() override;

  Result<WriteOutcome> apply(const StoreWrite& write) override;
  // The whole batch in one transaction (see applyBatchOnce for its round trips).
  std::vector<Result<WriteOutcome>> applyAll(const std::vector<const StoreWrite*>& writes) override;
  Result<StoredMember> get(const std::string& memberId) override;
  Result<std::vector<HistoryEntry>> history(const std::string& memberId) override;
  Result<MemberPage> listUpdated(int64_t sinceMs, const std::string& cursor, size_t limit) override;
  Result<std::vector<OutboxEntry>> outbox(size_t limit) override;
  Result<int64_t> outboxCount() override;
  Status deleteOutbox(const std::vector<int64_t>& seqs) override;
  Result<std::unique_ptr<OutboxClaim>> claimOutbox(size_t limit) override;
  Result<std::vector<HistoryRow>> scanHistory(int64_t afterSeq, size_t limit) override;
  Result<int64_t> historyHighWater() override;
  Result<std::vector<WriteOutcomeRow>> outcomesOf(const std::string& memberId) override;
  Result<std::vector<WriteOutcomeRow>> scanOutcomes(int64_t afterSeq, size_t limit) override;
  // One transaction under the member's writer lock (so no write of the member interleaves).
  // PostgreSQL keeps the old row versions until VACUUM reclaims them: the docs say so.
  Result<MemberErasure> erase(const std::string& memberId, int64_t nowMs) override;
  Status recordErasure(const ErasureRecord& record) override;
  Result<std::vector<ErasureRecord>> erasures(const std::string& memberId) override;
  Status ping() override;
  // LISTEN memberflow_member on a connection of its own (reconnected with backoff); writers
  // NOTIFY in their transaction, so a notice arrives after the change is committed.
  Status watchChanges(std::function<void(const std::string&)> changed,
                      std::function<void(bool)> feed) override;

  PgPool& pool() { return pool_; }

  // The purge of expired idempotency records, up to 1,000 at a time. Written so that a generic
  // plan (a prepared statement's, after five runs) finds them through the expiry index and
  // deletes them through the key: `key IN (SELECT ... LIMIT 1000)` scanned the whole table,
  // 20 ms at 59,000 keys (a day's keys at 5,000 writes/s would take seconds, every 1,000th
  // write). The second expiry test keeps a key that a write re-used meanwhile. Public for the
  // test of its plan.
  static constexpr const char* kReplayPurge =
      "DELETE FROM write_replays WHERE key = ANY(ARRAY(SELECT key FROM write_replays"
      " WHERE expires_at <= $1 ORDER BY expires_at LIMIT 1000)) AND expires_at <= $1";

 private:
  // What one run of a batch came to: ok (every write's outcome is set), or a failure and the
  // write whose statement failed (none: the transaction as a whole, e.g. its locks or COMMIT).
  struct BatchRun {
    Status failure;
    std::optional<size_t> write;
    bool combined = false;  // the failed statement carried several writes' rows
  };
  // The rows of one round's writes that go out in multi-row statements (applyBatchOnce).
  struct Combined;
  Result<WriteOutcome> applyOnce(PgConn& c, const StoreWrite& w);
  // combine: a round's member writes, change notices and idempotency records go out as one
  // statement each; otherwise each write has statements of its own (which tells the write a
  // failure belongs to).
  BatchRun applyBatchOnce(PgConn& c, const std::vector<const StoreWrite*>& writes,
                          const std::vector<bool>& alone, std::vector<Result<WriteOutcome>>& out,
                          bool combine);
  // Appends the statements that carry out the plan (with the change notice and the replay
  // record) and returns the outcome the write reports once they commit. With `combined`, the
  // member write, the notice and the record are added to its rows instead.
  WriteOutcome planStatements(const StoreWrite& w, WritePlan plan, std::vector<PgConn::Stmt>& stmts,
                              Combined* combined = nullptr) const;
  // Removes expired idempotency records once every 1,000 writes of this process.
  Status purgeDue(PgConn& c, size_t writes, int64_t nowMs);
  Result<std::optional<StoredMember>> load(PgConn& c, const std::string& memberId);
  Options opts_;
  PgPool pool_;
  std::atomic<uint64_t> writes_{0};
  std::jthread watcher_;
};

}  // namespace memberflow::postgres
