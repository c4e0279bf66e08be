// File: pg_member_store.cc
// PgMemberStore's reads (get, history, listUpdated), the outbox and its claims, change
// notifications and ping. The writes are in pg_member_writes.cc.
#include "adapters/postgres/pg_member_store.h"

#include <poll.h>

#include <set>

#include "common/log.h"
#include "domain/member_write.h"

namespace memberflow::postgres {
namespace {

std::string n(int64_t v) { return std::to_string(v); }

constexpr const char* kDeleteOutbox = "DELETE FROM outbox WHERE seq = ANY($1::bigint[])";

}  // namespace

Result<StoredMember> PgMemberStore::get(const std::string& memberId) {
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  auto m = load(**lease, memberId);
  if (!m.isOk()) return m.status();
  if (!*m) return Status::notFound("member not found");
  return std::move(**m);
}

Result<std::vector<HistoryEntry>> PgMemberStore::history(const std::string& memberId) {
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  auto r = (*lease)->exec(
      "mf_history_get",
      "SELECT version, op, event_id, message_id, source_sequence, changed_fields::text,"
      " lineage::text, applied_at FROM history WHERE member_id = $1 ORDER BY seq",
      {memberId});
  if (!r.isOk()) return r.status();
  std::vector<HistoryEntry> out;
  for (int i = 0; i < r->rows(); ++i) {
    HistoryEntry h;
    h.version = r->i64(i, 0);
    h.op = r->str(i, 1);
    h.eventId = r->str(i, 2);
    h.messageId = r->str(i, 3);
    h.sourceSequence = r->i64(i, 4);
    readHistoryJson(h, r->str(i, 5), r->str(i, 6));
    h.appliedAtMs = r->i64(i, 7);
    out.push_back(std::move(h));
  }
  if (out.empty()) {
    auto m = load(**lease, memberId);
    if (!m.isOk()) return m.status();
    if (!*m) return Status::notFound("member not found");
  }
  return out;
}

Result<std::vector<HistoryRow>> PgMemberStore::scanHistory(int64_t afterSeq, size_t limit) {
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  auto r = (*lease)->exec(
      "mf_history_scan",
      "SELECT seq, member_id, version, op, event_id, message_id, source_sequence,"
      " changed_fields::text, lineage::text, applied_at FROM history WHERE seq > $1 ORDER BY seq"
      " LIMIT $2",
      {n(afterSeq), n(static_cast<int64_t>(limit))});
  if (!r.isOk()) return r.status();
  std::vector<HistoryRow> out;
  out.reserve(static_cast<size_t>(r->rows()));
  for (int i = 0; i < r->rows(); ++i) {
    HistoryRow h;
    h.seq = r->i64(i, 0);
    h.memberId = r->str(i, 1);
    h.entry.version = r->i64(i, 2);
    h.entry.op = r->str(i, 3);
    h.entry.eventId = r->str(i, 4);
    h.entry.messageId = r->str(i, 5);
    h.entry.sourceSequence = r->i64(i, 6);
    readHistoryJson(h.entry, r->str(i, 7), r->str(i, 8));
    h.entry.appliedAtMs = r->i64(i, 9);
    out.push_back(std::move(h));
  }
  return out;
}

Result<std::vector<WriteOutcomeRow>> PgMemberStore::scanOutcomes(int64_t afterSeq, size_t limit) {
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  auto r = (*lease)->exec("mf_outcome_scan",
                          "SELECT seq, message_id, member_id, result, at FROM write_outcomes"
                          " WHERE seq > $1 ORDER BY seq LIMIT $2",
                          {n(afterSeq), n(static_cast<int64_t>(limit))});
  if (!r.isOk()) return r.status();
  std::vector<WriteOutcomeRow> out;
  for (int i = 0; i < r->rows(); ++i)
    out.push_back({r->i64(i, 0), r->str(i, 1), r->str(i, 2), r->str(i, 3), r->i64(i, 4)});
  return out;
}

Result<std::vector<WriteOutcomeRow>> PgMemberStore::outcomesOf(const std::string& memberId) {
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  auto r = (*lease)->exec("mf_outcomes_of",
                          "SELECT seq, message_id, member_id, result, at FROM write_outcomes"
                          " WHERE member_id = $1 ORDER BY seq",
                          {memberId});
  if (!r.isOk()) return r.status();
  std::vector<WriteOutcomeRow> out;
  for (int i = 0; i < r->rows(); ++i)
    out.push_back({r->i64(i, 0), r->str(i, 1), r->str(i, 2), r->str(i, 3), r->i64(i, 4)});
  return out;
}

Result<MemberPage> PgMemberStore::listUpdated(int64_t sinceMs, const std::string& cursor,
                                              size_t limit) {
  auto after = listPosition(sinceMs, cursor);
  if (!after.isOk()) return after.status();
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  auto r = (*lease)->exec(
      "mf_list",
      "SELECT member_id, body::text, version, source_sequence, updated_at FROM members"
      " WHERE NOT deleted AND updated_at >= $1 AND (updated_at, member_id) > ($2, $3)"
      " ORDER BY updated_at, member_id LIMIT $4",
      {n(sinceMs), n(after->afterUpdatedAtMs), after->afterMemberId,
       n(static_cast<int64_t>(limit + 1))});
  if (!r.isOk()) return r.status();
  MemberPage page;
  for (int i = 0; i < r->rows(); ++i) {
    if (page.members.size() == limit) {
      const auto& last = page.members.back();
      page.nextCursor = listCursor(last);
      break;
    }
    StoredMember s;
    auto m = memberFromStoredBody(r->str(i, 1));
    if (!m.isOk()) return m.status();
    s.member = std::move(m).value();
    s.version = r->i64(i, 2);
    s.sourceSequence = r->i64(i, 3);
    s.updatedAtMs = r->i64(i, 4);
    page.members.push_back(std::move(s));
  }
  return page;
}

Result<std::vector<OutboxEntry>> PgMemberStore::outbox(size_t limit) {
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  auto r = (*lease)->exec(
      "mf_outbox_peek",
      "SELECT seq, event_id, member_id, event, created_at FROM outbox ORDER BY seq LIMIT $1",
      {n(static_cast<int64_t>(limit))});
  if (!r.isOk()) return r.status();
  std::vector<OutboxEntry> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({r->i64(i, 0), r->str(i, 1), r->str(i, 2), r->str(i, 3), r->i64(i, 4)});
  }
  return out;
}

Result<int64_t> PgMemberStore::outboxCount() {
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  auto r = (*lease)->exec("mf_outbox_count", "SELECT count(*) FROM outbox");
  if (!r.isOk()) return r.status();
  return r->i64(0, 0);
}

Result<int64_t> PgMemberStore::historyHighWater() {
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  auto r = (*lease)->exec("mf_history_high", "SELECT coalesce(max(seq), 0) FROM history");
  if (!r.isOk()) return r.status();
  return r->i64(0, 0);
}

Status PgMemberStore::deleteOutbox(const std::vector<int64_t>& seqs) {
  if (seqs.empty()) return Status::ok();
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  return (*lease)->exec("mf_outbox_delete", kDeleteOutbox, {bigintArrayLiteral(seqs)}).status();
}

// The claim is an open transaction holding the rows (FOR UPDATE SKIP LOCKED) and the members'
// relay locks; done() deletes the rows and commits, dropping it rolls back.
Result<std::unique_ptr<OutboxClaim>> PgMemberStore::claimOutbox(size_t limit) {
  struct Claim final : OutboxClaim {
    PgPool::Lease lease;
    std::unique_ptr<PgTransaction> tx;
    explicit Claim(PgPool::Lease l) : lease(std::move(l)) {}
    ~Claim() override { tx.reset(); }  // rolls back when not done
    Status done() override {
      if (!entries.empty()) {
        std::vector<int64_t> seqs;
        for (const auto& e : entries) seqs.push_back(e.seq);
        auto r = lease->exec("mf_outbox_delete", kDeleteOutbox, {bigintArrayLiteral(seqs)});
        if (!r.isOk()) return r.status();
      }
      return tx->commit();
    }
  };
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  auto claim = std::make_unique<Claim>(std::move(lease).value());
  claim->tx = std::make_unique<PgTransaction>(*claim->lease);
  MF_RETURN_IF_ERROR(claim->tx->begin());
  // 1. The members of the oldest rows; 2. those whose relay lock this relay gets (another
  // relay holds the rest); 3. their rows, oldest first. A member's rows are only ever read by
  // the relay holding its lock, in seq order, so nobody overtakes within a member; per member
  // seq order is commit order, because writers of a member are serialised. The locks taken
  // are bounded by the limit, whatever plan the database picks.
  auto heads =
      claim->lease->exec("mf_outbox_heads", "SELECT member_id FROM outbox ORDER BY seq LIMIT $1",
                         {n(static_cast<int64_t>(limit))});
  if (!heads.isOk()) return heads.status();
  std::set<std::string> seen;
  std::vector<std::string> members;  // distinct, in outbox order
  for (int i = 0; i < heads->rows(); ++i) {
    std::string m = heads->str(i, 0);
    if (seen.insert(m).second) members.push_back(std::move(m));
  }
  std::string candidates = textArrayLiteral(members);
  if (seen.empty()) return std::unique_ptr<OutboxClaim>(std::move(claim));
  auto mine = claim->lease->exec("mf_outbox_lock",
                                 "SELECT array_agg(m) FROM unnest($1::text[]) AS t(m)"
                                 " WHERE pg_try_advisory_xact_lock(2, hashtext(m))",
                                 {candidates});
  if (!mine.isOk()) return mine.status();
  if (mine->null(0, 0)) return std::unique_ptr<OutboxClaim>(std::move(claim));
  auto r = claim->lease->exec("mf_outbox_claim",
                              "SELECT seq, event_id, member_id, event, created_at FROM outbox"
                              " WHERE member_id = ANY($1::text[]) ORDER BY seq LIMIT $2",
                              {mine->str(0, 0), n(static_cast<int64_t>(limit))});
  for (int i = 0; i < r->rows(); ++i) {
    claim->entries.push_back(
        {r->i64(i, 0), r->str(i, 1), r->str(i, 2), r->str(i, 3), r->i64(i, 4)});
  }
  return std::unique_ptr<OutboxClaim>(std::move(claim));
}

PgMemberStore::~PgMemberStore() {
  if (watcher_.joinable()) {
    watcher_.request_stop();
    watcher_.join();
  }
}

Status PgMemberStore::watchChanges(std::function<void(const std::string&)> changed,
                                   std::function<void(bool)> feed) {
  feed(false);  // nothing is known until the first LISTEN is in place
  watcher_ = std::jthread(
      [this, changed = std::move(changed), feed = std::move(feed)](std::stop_token stop) {
        bool live = false;
        while (!stop.stop_requested()) {
          auto c = PgConn::connect(opts_.pool.conninfo, opts_.pool.password);
          if (c.isOk() && (*c)->run("LISTEN memberflow_member").isOk()) {
            feed(true);
            live = true;
            while (!stop.stop_requested()) {
              pollfd p{(*c)->socket(), POLLIN, 0};
              (void)::poll(&p, 1, 200);
              auto notes = (*c)->notifications();
              if (!notes.isOk()) break;
              for (const auto& id : *notes) changed(id);
            }
          }
          if (live) {
            feed(false);
            live = false;
            log::warn("member change feed lost, read cache off until it is back",
                      {"store", {}, {}, {}, "feed_down", {}});
          }
          for (int i = 0; i < 25 && !stop.stop_requested(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));  // reconnect backoff: 0.5 s
          }
        }
      });
  return Status::ok();
}

Status PgMemberStore::ping() {
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  return (*lease)->exec("mf_ping", "SELECT 1").status();
}

}  // namespace memberflow::postgres
