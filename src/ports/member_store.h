// File: member_store.h
// MemberStore: the Member API's database. Each write applies a change to one member, records
// history, writes the outbox event and keeps its outcome under its idempotency key — all in ONE
// transaction (the transactional outbox, DESIGN.md §1). What a write is and does is data
// (domain/member_write.h); how an outcome is shown to an HTTP client is the API's business.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "domain/member.h"
#include "domain/member_write.h"

namespace memberflow {

struct OutboxEntry {
  int64_t seq = 0;  // commit order
  std::string eventId;
  std::string memberId;
  std::string event;  // the CloudEvent JSON
  int64_t createdAtMs = 0;
};

// Outbox rows claimed by one relay: no other relay gets them (or later rows of the same
// members) until the claim is done or dropped. Dropping it without done() releases the rows.
class OutboxClaim {
 public:
  virtual ~OutboxClaim() = default;
  // Deletes the claimed rows: the topic accepted them.
  virtual Status done() = 0;
  std::vector<OutboxEntry> entries;
};

// One history row with its member and its place in commit order (for `reconcile`).
struct HistoryRow {
  int64_t seq = 0;
  std::string memberId;
  HistoryEntry entry;
};

// What a sourced write (one with a message id) did when it left no history row: "stale",
// "noop" or "not_found" (a delete of an unknown member). Kept so that `reconcile` can account
// for every source record; a write retried after a crash may leave a second row.
struct WriteOutcomeRow {
  int64_t seq = 0;
  std::string messageId;
  std::string memberId;
  std::string result;
  int64_t atMs = 0;
};

// What erase() did to one member (`memberflow erase`, issue 18).
struct MemberErasure {
  bool known = false;          // the store had the member (a row or history)
  bool alreadyErased = false;  // erased before and not written since: no second event
  std::string eventId;         // the member.erased event put in the outbox ("" when none)
  int64_t version = 0;         // the member's version after the erasure
  int64_t historyRows = 0;     // history rows kept (ids, versions, field names, lineage)
  int64_t replays = 0;         // idempotency records (the member JSON) deleted
  int64_t outbox = 0;          // unsent events of the member deleted
};

// The audit record of one erasure: ids and counts, never member data.
struct ErasureRecord {
  std::string memberId;
  int64_t atMs = 0;
  std::string reason;   // the operator's reason, as given
  json::object counts;  // what was removed or redacted, per store
};

struct MemberPage {
  std::vector<StoredMember> members;
  std::string nextCursor;  // empty at the end
};

// Thread-safe.
class MemberStore {
 public:
  virtual ~MemberStore() = default;

  // Applies one write atomically (see WriteResult). Unavailable: the database is down; the
  // caller may retry (the idempotency key makes that safe).
  virtual Result<WriteOutcome> apply(const StoreWrite& write) = 0;

  // Applies the writes in order, each exactly as apply() would (a later write of a member sees
  // the earlier ones), and returns their outcomes in that order. Both stores commit a batch in
  // one transaction (SQLite with a savepoint per write, PostgreSQL pipelined, a write whose
  // statement fails rerun out of the batch); the default applies them one by one. A failed
  // transaction fails each of its writes with its status; nothing of it is applied.
  virtual std::vector<Result<WriteOutcome>> applyAll(const std::vector<const StoreWrite*>& writes) {
    std::vector<Result<WriteOutcome>> out;
    out.reserve(writes.size());
    for (const StoreWrite* w : writes) out.push_back(apply(*w));
    return out;
  }

  // The stored member, tombstones included (deleted = true). NotFound when never seen.
  virtual Result<StoredMember> get(const std::string& memberId) = 0;

  // Applied changes of a member, oldest first. NotFound when never seen.
  virtual Result<std::vector<HistoryEntry>> history(const std::string& memberId) = 0;

  // Live members updated at or after sinceMs, ordered by (updatedAt, memberId), paged.
  // InvalidArgument: a malformed cursor.
  virtual Result<MemberPage> listUpdated(int64_t sinceMs, const std::string& cursor,
                                         size_t limit) = 0;

  // Outbox rows in commit order, from the oldest (for the relay).
  virtual Result<std::vector<OutboxEntry>> outbox(size_t limit) = 0;
  // Rows waiting in the outbox (for operators and idle detection).
  virtual Result<int64_t> outboxCount() = 0;
  // Deletes outbox rows once the topic accepted them. Idempotent.
  virtual Status deleteOutbox(const std::vector<int64_t>& seqs) = 0;
  // The oldest rows for one relay of several. This default suits a store with one relay (the
  // embedded store: one process owns its database): outbox(), then deleteOutbox().
  virtual Result<std::unique_ptr<OutboxClaim>> claimOutbox(size_t limit) {
    struct Simple final : OutboxClaim {
      MemberStore* store;
      Status done() override {
        std::vector<int64_t> seqs;
        for (const auto& e : entries) seqs.push_back(e.seq);
        return store->deleteOutbox(seqs);
      }
    };
    auto rows = outbox(limit);
    if (!rows.isOk()) return rows.status();
    auto c = std::make_unique<Simple>();
    c->store = this;
    c->entries = std::move(rows).value();
    return std::unique_ptr<OutboxClaim>(std::move(c));
  }

  // The change feed, for caches: changed(memberId) for each member any process wrote, and
  // feed(false) when notices may have been missed (the feed connection dropped), feed(true)
  // once they flow again. Runs until the store is destroyed. A store without other writers
  // (the embedded store belongs to one process) has no feed: it returns ok and never calls.
  virtual Status watchChanges(std::function<void(const std::string&)> changed,
                              std::function<void(bool)> feed) {
    (void)changed;
    (void)feed;
    return Status::ok();
  }

  // For `reconcile`: history rows and outcome rows with seq > afterSeq, in commit order, at
  // most `limit`. An empty page is the end.
  virtual Result<std::vector<HistoryRow>> scanHistory(int64_t afterSeq, size_t limit) = 0;
  virtual Result<std::vector<WriteOutcomeRow>> scanOutcomes(int64_t afterSeq, size_t limit) = 0;
  // The outcome rows of one member, in commit order (the console's lineage shows its stale
  // and no-op records). The default: FailedPrecondition (not supported).
  virtual Result<std::vector<WriteOutcomeRow>> outcomesOf(const std::string& memberId) {
    (void)memberId;
    return Status::failedPrecondition("this member store cannot list a member's outcomes");
  }
  // The seq of the newest history row (0 when none): the console's applied-changes rate is its
  // growth. The default: FailedPrecondition (not supported).
  virtual Result<int64_t> historyHighWater() {
    return Status::failedPrecondition("this member store cannot tell its history's size");
  }

  // Erases the member's personal data (`memberflow erase`, issue 18), in one transaction: the
  // member row keeps its id, version, times and source sequence, loses its body and becomes a
  // tombstone (GET: 404), so a later sourced change of the member applies again as new data;
  // history rows stay (they hold ids, versions, changed field names and lineage, no content)
  // and one is added (op "erased"); the idempotency records of the member (they hold its JSON)
  // and its unsent outbox events go; a member.erased event (no personal data) is put in the
  // outbox. The store overwrites what it deletes (SQLite: secure_delete). Idempotent: a member
  // erased and not written since gets no second event (alreadyErased). A member the store never
  // saw: known = false, nothing written. The default: FailedPrecondition (not supported).
  virtual Result<MemberErasure> erase(const std::string& memberId, int64_t nowMs) {
    (void)memberId;
    (void)nowMs;
    return Status::failedPrecondition("this member store cannot erase");
  }
  // Appends the audit record of an erasure (durable when ok); erasures() reads them back, in
  // the order recorded. The default: FailedPrecondition (not supported).
  virtual Status recordErasure(const ErasureRecord& record) {
    (void)record;
    return Status::failedPrecondition("this member store cannot erase");
  }
  virtual Result<std::vector<ErasureRecord>> erasures(const std::string& memberId) {
    (void)memberId;
    return Status::failedPrecondition("this member store cannot erase");
  }

  // Readiness: ok when the database answers.
  virtual Status ping() = 0;
};

}  // namespace memberflow
