// File: pg_member_store.h
// MemberStore on PostgreSQL (libpq): members (JSONB body plus the queried columns),
// tombstones, history with lineage, outbox and idempotency keys, every write in one
// transaction. Writers of one member are serialised by a transaction-scoped advisory lock on
// the member id, taken before anything is read: the stale guard, the no-op check and the
// idempotency check then see the previous writer's commit, so two API processes writing the
// same member can neither lose an update nor emit two events for one change (a unique
// violation or serialization failure runs the transaction again). The relay claims outbox
// rows with FOR UPDATE SKIP LOCKED and a second advisory lock space per member, so several
// relays share the work without overtaking each other within a member.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

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
  Result<StoredMember> get(const std::string& memberId) override;
  Result<std::vector<HistoryEntry>> history(const std::string& memberId) override;
  Result<MemberPage> listUpdated(int64_t sinceMs, const std::string& cursor, size_t limit) override;
  Result<std::vector<OutboxEntry>> outbox(size_t limit) override;
  Result<int64_t> outboxCount() override;
  Status deleteOutbox(const std::vector<int64_t>& seqs) override;
  Result<std::unique_ptr<OutboxClaim>> claimOutbox(size_t limit) override;
  Status ping() override;
  // LISTEN memberflow_member on a connection of its own (reconnected with backoff); writers
  // NOTIFY in their transaction, so a notice arrives after the change is committed.
  Status watchChanges(std::function<void(const std::string&)> changed,
                      std::function<void(bool)> feed) override;

  PgPool& pool() { return pool_; }

 private:
  Result<WriteOutcome> applyOnce(PgConn& c, const StoreWrite& w);
  Result<std::optional<StoredMember>> load(PgConn& c, const std::string& memberId);
  Options opts_;
  PgPool pool_;
  std::atomic<uint64_t> writes_{0};
  std::jthread watcher_;
};

}  // namespace memberflow::postgres
