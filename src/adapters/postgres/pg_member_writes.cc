// File: pg_member_writes.cc
// PgMemberStore's writes (pg_member_store.h): apply() and applyAll(), the planning they share
// with the embedded store (planWrite) turned into statements, the idempotency records and
// their purge. Reads, the outbox and its claims, and change notifications are in
// pg_member_store.cc; erasure in pg_member_erase.cc.
#include <algorithm>
#include <map>

#include "adapters/postgres/pg_member_rows.h"
#include "adapters/postgres/pg_member_store.h"
#include "common/log.h"
#include "domain/member_write.h"

namespace memberflow::postgres {
using member_rows::kLoadRow;
using member_rows::kWriterLock;
using member_rows::storedOfRow;

namespace {

std::string n(int64_t v) { return std::to_string(v); }

constexpr int kAttempts = 5;  // a transaction that hit a serialization failure or a unique race

constexpr const char* kReplayGet =
    "SELECT fingerprint, result, member, version FROM write_replays WHERE key = $1"
    " AND expires_at > $2";

// A batch takes the writer locks of all its members at once, in ascending order of the lock
// key (a volatile function in the select list runs after the ORDER BY sort): two batches, or
// a batch and single writes (one lock each), never wait for each other in a cycle.
constexpr const char* kBatchLock =
    "SELECT pg_advisory_xact_lock(1, k) FROM (SELECT DISTINCT hashtext(m) AS k"
    " FROM unnest($1::text[]) AS t(m)) AS s ORDER BY k";
// The rows and idempotency records of one round of a batch (columns as kLoadRow, then the
// id), read under the batch's writer locks: not FOR UPDATE, as kLoadRow (pg_member_rows.h).
constexpr const char* kBatchLoad =
    "SELECT body::text, version, source_sequence, updated_at, deleted, member_id FROM members"
    " WHERE member_id = ANY($1::text[])";
constexpr const char* kBatchReplays =
    "SELECT fingerprint, result, member, version, expires_at, key FROM write_replays"
    " WHERE key = ANY($1::text[])";

// The outcome of a write whose idempotency key holds a record (row `row` of a result whose
// columns start with fingerprint, result, member, version): the first write's outcome again, or
// kKeyReused when the request differs.
Result<WriteOutcome> replayOf(const StoreWrite& w, const PgResult& r, int row) {
  if (r.str(row, 0) == w.requestFingerprint) {
    return replayOutcome(
        r.str(row, 1),
        {r.str(row, 2), r.null(row, 3) ? std::nullopt : std::optional(r.i64(row, 3))});
  }
  WriteOutcome out;
  out.result = WriteResult::kKeyReused;
  return out;
}

}  // namespace

Result<std::optional<StoredMember>> member_rows::storedOfRow(const std::string& memberId,
                                                             const PgResult& r, int row) {
  if (r.rows() <= row) return std::optional<StoredMember>{};
  StoredMember s;
  s.version = r.i64(row, 1);
  s.sourceSequence = r.i64(row, 2);
  s.updatedAtMs = r.i64(row, 3);
  s.deleted = r.boolean(row, 4);
  MF_ASSIGN_OR_RETURN(
      s.member,
      memberOfRow(memberId, r.null(row, 0) ? std::nullopt : std::optional(r.str(row, 0))));
  return std::optional<StoredMember>{std::move(s)};
}

// The rows of one round's writes, sent as one statement per table instead of statements per
// write: 13 arrays for the member writes (row, history entry and event, guarded as apply()'s
// statement guards its one), one for the change notices, five for the idempotency records.
struct PgMemberStore::Combined {
  std::vector<std::string> memberIds;
  std::vector<std::string> bodies;  // "" for a tombstone (deleted: stored as NULL)
  std::vector<int64_t> versions, sequences, updatedAts;
  std::vector<std::string> deleted, ops, eventIds, messageIds, changedFields, lineages;
  std::vector<int64_t> appliedAts;
  std::vector<std::string> events;
  std::vector<std::string> notices;
  std::vector<std::string> keys, fingerprints, results, replayMembers;
  std::vector<int64_t> expiries, replayVersions;  // version 0: none (versions start at 1)

  // Appends its statements (none for empty rows).
  void appendTo(std::vector<PgConn::Stmt>& stmts) const {
    if (!memberIds.empty()) {
      stmts.push_back(
          {"mf_write_rows",
           "WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[],"
           " $5::bigint[], $6::boolean[], $7::text[], $8::text[], $9::text[], $10::text[],"
           " $11::text[], $12::bigint[], $13::text[]) WITH ORDINALITY AS t(member_id, body,"
           " version, source_sequence, updated_at, deleted, op, event_id, message_id,"
           " changed_fields, lineage, applied_at, event, ord)),"
           " up AS (INSERT INTO members(member_id, body, version, source_sequence, updated_at,"
           " deleted) SELECT member_id, CASE WHEN deleted THEN NULL ELSE body::jsonb END, version,"
           " source_sequence, updated_at, deleted"
           " FROM v ORDER BY ord ON CONFLICT (member_id) DO UPDATE SET body = EXCLUDED.body,"
           " version = EXCLUDED.version, source_sequence = EXCLUDED.source_sequence,"
           " updated_at = EXCLUDED.updated_at, deleted = EXCLUDED.deleted"
           " WHERE members.version = EXCLUDED.version - 1 RETURNING member_id),"
           " h AS (INSERT INTO history(member_id, version, op, event_id, message_id,"
           " source_sequence, changed_fields, lineage, applied_at) SELECT v.member_id, v.version,"
           " v.op, v.event_id, v.message_id, v.source_sequence, v.changed_fields::jsonb,"
           " v.lineage::jsonb, v.applied_at FROM v JOIN up USING (member_id) ORDER BY v.ord),"
           " o AS (INSERT INTO outbox(event_id, member_id, event, created_at) SELECT v.event_id,"
           " v.member_id, v.event, v.applied_at FROM v JOIN up USING (member_id) ORDER BY v.ord)"
           // Every guard held, or the transaction fails as apply()'s does.
           " SELECT memberflow_expect_one((count(*) = $14)::int) FROM up",
           {textArrayLiteral(memberIds), textArrayLiteral(bodies), bigintArrayLiteral(versions),
            bigintArrayLiteral(sequences), bigintArrayLiteral(updatedAts),
            textArrayLiteral(deleted), textArrayLiteral(ops), textArrayLiteral(eventIds),
            textArrayLiteral(messageIds), textArrayLiteral(changedFields),
            textArrayLiteral(lineages), bigintArrayLiteral(appliedAts), textArrayLiteral(events),
            std::to_string(memberIds.size())}});
    }
    if (!notices.empty()) {
      stmts.push_back({"mf_notify_rows",
                       "SELECT pg_notify('memberflow_member', m) FROM unnest($1::text[]) AS t(m)",
                       {textArrayLiteral(notices)}});
    }
    if (!keys.empty()) {
      stmts.push_back(
          {"mf_replay_rows",
           "INSERT INTO write_replays(key, fingerprint, result, member, expires_at, version)"
           " SELECT k, f, r, m, e, NULLIF(v, 0) FROM unnest($1::text[], $2::text[], $3::text[],"
           " $4::text[], $5::bigint[], $6::bigint[]) AS t(k, f, r, m, e, v)"
           " ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,"
           " result = EXCLUDED.result, member = EXCLUDED.member, expires_at = EXCLUDED.expires_at,"
           " version = EXCLUDED.version",
           {textArrayLiteral(keys), textArrayLiteral(fingerprints), textArrayLiteral(results),
            textArrayLiteral(replayMembers), bigintArrayLiteral(expiries),
            bigintArrayLiteral(replayVersions)}});
    }
  }
};

Result<std::optional<StoredMember>> PgMemberStore::load(PgConn& c, const std::string& memberId) {
  auto r = c.exec("mf_load", kLoadRow, {memberId});
  if (!r.isOk()) return r.status();
  return storedOfRow(memberId, *r);
}

Status PgMemberStore::purgeDue(PgConn& c, size_t writes, int64_t nowMs) {
  // Expired idempotency keys are already ignored by lookups; every 1,000 writes of this process
  // remove up to 1,000 of them so the table stays the size of the expiry window.
  uint64_t before = writes_.fetch_add(writes);
  if (before / 1000 == (before + writes) / 1000) return Status::ok();
  return c.exec("mf_replay_purge", kReplayPurge, {n(nowMs)}).status();
}

Result<WriteOutcome> PgMemberStore::apply(const StoreWrite& w) {
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  MF_RETURN_IF_ERROR(purgeDue(**lease, 1, w.nowMs));
  for (int attempt = 1;; ++attempt) {
    auto out = applyOnce(**lease, w);
    if (out.isOk() || attempt >= kAttempts) return out;
    // A unique race (two first writes of one key) or a serialization failure: run it again.
    if (!isRetryable(out.status()) && out.status().code() != Code::kAlreadyExists) return out;
  }
}

// Two round trips per write, whatever it does: the first pipeline opens the transaction, takes
// the member's writer lock and reads the idempotency record and the row under it; the plan is
// made in C++ (planWrite, shared with the embedded store); the second pipeline sends its
// statements and COMMIT together. The writer lock serialises the writers of a member, so what
// was read is what the plan changes; the upsert's version guard checks it once more in SQL and
// fails the whole transaction (memberflow_expect_one) if it does not hold.
Result<WriteOutcome> PgMemberStore::applyOnce(PgConn& c, const StoreWrite& w) {
  PgTransaction tx(c);
  std::vector<PgConn::Stmt> first;
  first.push_back({nullptr, "BEGIN", {}});
  first.push_back({"mf_writer_lock", kWriterLock, {w.memberId}});
  first.push_back({"mf_load", kLoadRow, {w.memberId}});
  if (w.idempotencyKey) {
    first.push_back({"mf_replay_get", kReplayGet, {*w.idempotencyKey, n(w.nowMs)}});
  }
  tx.opened();  // rolled back if anything below fails
  auto read = c.pipeline(first);
  if (!read.isOk()) return read.status();

  if (w.idempotencyKey && (*read)[3].rows() > 0) {
    auto replay = replayOf(w, (*read)[3], 0);
    MF_RETURN_IF_ERROR(tx.commit());
    return replay;
  }
  auto cur = storedOfRow(w.memberId, (*read)[2]);
  if (!cur.isOk()) return cur.status();
  std::vector<PgConn::Stmt> second;
  WriteOutcome out = planStatements(w, planWrite(w, *cur), second);
  second.push_back({nullptr, "COMMIT", {}});
  auto wrote = c.pipeline(second);
  if (!wrote.isOk()) return wrote.status();  // the transaction failed: tx rolls it back
  tx.ended();
  if (wrote->back().commandTag() == "ROLLBACK")
    return Status::unavailable("postgres: the transaction was rolled back");
  return out;
}

WriteOutcome PgMemberStore::planStatements(const StoreWrite& w, WritePlan plan,
                                           std::vector<PgConn::Stmt>& stmts,
                                           Combined* combined) const {
  switch (plan.action) {
    case WritePlan::Action::kNothing: break;
    case WritePlan::Action::kGuardUnknown:
      stmts.push_back(
          {"mf_guard",
           "INSERT INTO members(member_id, body, version, source_sequence, updated_at, deleted)"
           " VALUES($1, NULL, 0, $2, $3, true) ON CONFLICT (member_id) DO UPDATE SET"
           " source_sequence = greatest(members.source_sequence, EXCLUDED.source_sequence)",
           {w.memberId, n(plan.next.sourceSequence), n(plan.next.updatedAtMs)}});
      break;
    case WritePlan::Action::kSequenceOnly:
      stmts.push_back({"mf_seq",
                       "UPDATE members SET source_sequence = $2 WHERE member_id = $1",
                       {w.memberId, n(plan.next.sourceSequence)}});
      break;
    case WritePlan::Action::kWrite: {
      const StoredMember& next = plan.next;
      if (combined) {
        Combined& r = *combined;
        r.memberIds.push_back(w.memberId);
        r.bodies.push_back(next.deleted ? std::string() : plan.body);
        r.versions.push_back(next.version);
        r.sequences.push_back(next.sourceSequence);
        r.updatedAts.push_back(next.updatedAtMs);
        r.deleted.push_back(next.deleted ? "true" : "false");
        r.ops.push_back(plan.event.type.substr(7));
        r.eventIds.push_back(plan.event.id);
        r.messageIds.push_back(w.messageId);
        r.changedFields.push_back(plan.changedFieldsJson);
        r.lineages.push_back(plan.lineageJson);
        r.appliedAts.push_back(w.nowMs);
        r.events.push_back(plan.eventJson);
        break;
      }
      // Member row, history and outbox in one statement: history and outbox rows exist only if
      // the guarded upsert wrote the row.
      stmts.push_back(
          {"mf_write",
           "WITH up AS (INSERT INTO members(member_id, body, version, source_sequence, updated_at, "
           "deleted)"
           " VALUES($1, $2::jsonb, $3, $4, $5, $6) ON CONFLICT (member_id) DO UPDATE SET body = "
           "EXCLUDED.body,"
           " version = EXCLUDED.version, source_sequence = EXCLUDED.source_sequence,"
           " updated_at = EXCLUDED.updated_at, deleted = EXCLUDED.deleted"
           " WHERE members.version = EXCLUDED.version - 1 RETURNING member_id),"
           " h AS (INSERT INTO history(member_id, version, op, event_id, message_id, "
           "source_sequence,"
           " changed_fields, lineage, applied_at) SELECT member_id, $3::bigint, $7::text, "
           "$8::text, $9::text, $4::bigint, $10::jsonb, $11::jsonb,"
           " $12::bigint FROM up),"
           " o AS (INSERT INTO outbox(event_id, member_id, event, created_at) SELECT $8::text, "
           "member_id, $13::text, $12::bigint"
           " FROM up)"
           " SELECT memberflow_expect_one(count(*)) FROM up",
           {w.memberId, next.deleted ? Param{} : Param{plan.body}, n(next.version),
            n(next.sourceSequence), n(next.updatedAtMs), next.deleted ? "true" : "false",
            plan.event.type.substr(7), plan.event.id, w.messageId, plan.changedFieldsJson,
            plan.lineageJson, n(w.nowMs), plan.eventJson}});
      break;
    }
  }
  if (plan.action != WritePlan::Action::kNothing) {
    // Delivered to every listener when (and only if) the transaction commits: caches drop it.
    if (combined) {
      combined->notices.push_back(w.memberId);
    } else {
      stmts.push_back({"mf_notify", "SELECT pg_notify('memberflow_member', $1)", {w.memberId}});
    }
  }
  WriteOutcome out = std::move(plan.outcome);
  if (!w.messageId.empty() && plan.action != WritePlan::Action::kWrite &&
      recordedOutcome(out.result)) {
    stmts.push_back({"mf_outcome_put",
                     "INSERT INTO write_outcomes(message_id, member_id, result, at)"
                     " VALUES($1, $2, $3, $4)",
                     {w.messageId, w.memberId, std::string(name(out.result)), n(w.nowMs)}});
  }
  // Only writes that took effect are replayed (as in the embedded store).
  if (!w.idempotencyKey || !keptForReplay(out.result)) return out;
  ReplayRecord kept = replayRecord(w, out);
  if (combined) {
    combined->keys.push_back(*w.idempotencyKey);
    combined->fingerprints.push_back(w.requestFingerprint);
    combined->results.push_back(std::string(name(out.result)));
    combined->replayMembers.push_back(std::move(kept.member));
    combined->expiries.push_back(w.nowMs + opts_.idempotencyTtlMs);
    combined->replayVersions.push_back(kept.version.value_or(0));
  } else {
    stmts.push_back(
        {"mf_replay_put",
         "INSERT INTO write_replays(key, fingerprint, result, member, expires_at, version)"
         " VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO UPDATE SET"
         " fingerprint = EXCLUDED.fingerprint, result = EXCLUDED.result, member = EXCLUDED.member,"
         " expires_at = EXCLUDED.expires_at, version = EXCLUDED.version",
         {*w.idempotencyKey, w.requestFingerprint, std::string(name(out.result)),
          std::move(kept.member), n(w.nowMs + opts_.idempotencyTtlMs),
          kept.version ? Param{n(*kept.version)} : Param{}}});
  }
  return out;
}

// One transaction for the whole batch. A write that fails on its own (a constraint its
// statements break, a corrupt row) fails alone: when the failed statement was a multi-row one,
// the batch first runs again with a statement per write, which tells the write; then the
// batch runs again without that write, which leaves
// the others exactly as apply() would have, since a failed apply() changes nothing. No
// savepoint per write: a batch of up to 500 would open as many subtransactions, and past 64 in
// one transaction every other session's snapshots have to look them up in pg_subtrans. A
// serialization failure or a unique race runs the batch again, as apply() runs its write
// again; a lost connection fails every write (Unavailable: the caller retries, the
// idempotency keys make that safe).
std::vector<Result<WriteOutcome>> PgMemberStore::applyAll(
    const std::vector<const StoreWrite*>& writes) {
  std::vector<Result<WriteOutcome>> out(writes.size(), Status::internal("postgres: not applied"));
  if (writes.empty()) return out;
  std::vector<bool> alone(writes.size(), false);  // failed on its own: out holds its failure
  auto failAll = [&](const Status& s) {
    for (size_t i = 0; i < writes.size(); ++i) {
      if (!alone[i]) out[i] = s;
    }
    return out;
  };
  auto lease = pool_.acquire();
  if (!lease.isOk()) return failAll(lease.status());
  int64_t nowMs = 0;
  for (const StoreWrite* w : writes) nowMs = std::max(nowMs, w->nowMs);
  if (Status s = purgeDue(**lease, writes.size(), nowMs); !s.isOk()) return failAll(s);
  std::vector<int> races(writes.size(), 0);
  bool combine = true;
  for (int attempt = 1;;) {
    BatchRun run = applyBatchOnce(**lease, writes, alone, out, combine);
    if (run.failure.isOk()) return out;
    const Status& s = run.failure;
    if (run.combined && !isRetryable(s) && s.code() != Code::kUnavailable) {
      // A statement of several writes failed on its own terms (a unique race included: the
      // per-write statements retry it write by write): the batch runs again with a statement
      // per write, which tells the write it belongs to. Logged with the code alone: a
      // server's message can quote the statement's arrays, member data among them.
      log::warn("a batch's multi-row statement failed, running the batch a write at a time",
                {"store", {}, {}, {}, "batch_fallback", codeName(s.code())});
      combine = false;
      continue;
    }
    bool whole = !run.write || isRetryable(s) || s.code() == Code::kUnavailable;
    if (!whole) {
      size_t i = *run.write;
      if (s.code() == Code::kAlreadyExists && ++races[i] < kAttempts) continue;
      out[i] = s;
      alone[i] = true;
      continue;
    }
    if ((isRetryable(s) || s.code() == Code::kAlreadyExists) && ++attempt <= kAttempts) continue;
    return failAll(s);
  }
}

// Rounds: a write goes one round after the latest earlier write of its member or of its
// idempotency key, so a round holds at most one write per member and per key. A round's writes
// are planned on what the earlier rounds wrote (read again, in the same transaction), so a
// later write of a member sees the earlier ones exactly as apply() would; writes of different
// members and keys are independent, so planning them side by side changes nothing they can
// observe. Round trips: one more than the rounds. The first pipeline opens the transaction,
// takes the locks and reads the first round's rows and idempotency records; each next one
// sends a round's statements with the next round's reads, the last one with COMMIT. A batch
// without repeats (what sync sends) is two round trips, as one apply() is. With `combine`, a
// round's member writes, change notices and idempotency records are one statement each
// (Combined), the rarer statements (tombstone guards, sequence-only updates, outcome records)
// one per write.
PgMemberStore::BatchRun PgMemberStore::applyBatchOnce(PgConn& c,
                                                      const std::vector<const StoreWrite*>& writes,
                                                      const std::vector<bool>& alone,
                                                      std::vector<Result<WriteOutcome>>& out,
                                                      bool combine) {
  std::vector<std::vector<size_t>> rounds;
  std::map<std::string, size_t> roundOfMember, roundOfKey;  // the round a next write goes in
  for (size_t i = 0; i < writes.size(); ++i) {
    if (alone[i]) continue;
    const StoreWrite& w = *writes[i];
    size_t r = roundOfMember[w.memberId];
    if (w.idempotencyKey) r = std::max(r, roundOfKey[*w.idempotencyKey]);
    roundOfMember[w.memberId] = r + 1;
    if (w.idempotencyKey) roundOfKey[*w.idempotencyKey] = r + 1;
    if (rounds.size() <= r) rounds.resize(r + 1);
    rounds[r].push_back(i);
  }
  if (rounds.empty()) return {Status::ok(), std::nullopt};
  auto readsOf = [&](const std::vector<size_t>& round, std::vector<PgConn::Stmt>& stmts) {
    std::vector<std::string> ids, keys;
    for (size_t i : round) {
      ids.push_back(writes[i]->memberId);
      if (writes[i]->idempotencyKey) keys.push_back(*writes[i]->idempotencyKey);
    }
    // Unnamed, so planned for these keys on the table as it is now. A prepared statement's
    // generic plan, made while a new table was a few pages, read the whole table for every
    // batch once it had grown (a sequential scan of write_replays: 40 ms a batch at 60,000
    // keys) until autovacuum's next ANALYZE, up to a minute later. Planning costs ~0.1 ms a
    // batch.
    stmts.push_back({nullptr, kBatchLoad, {textArrayLiteral(ids)}});
    stmts.push_back({nullptr, kBatchReplays, {textArrayLiteral(keys)}});
  };
  std::vector<std::string> members;
  for (const auto& [id, next] : roundOfMember) members.push_back(id);
  std::vector<PgConn::Stmt> stmts{{nullptr, "BEGIN", {}},
                                  {"mf_batch_lock", kBatchLock, {textArrayLiteral(members)}}};
  readsOf(rounds[0], stmts);
  std::vector<size_t> writeOfStmt;  // the write of each statement of the round's writes
  size_t combinedEnd = 0;           // the round's multi-row statements: [writeOfStmt.size(), end)
  PgTransaction tx(c);
  tx.opened();  // rolled back if anything below fails
  for (size_t r = 0;; ++r) {
    auto run = c.pipelineRun(stmts);
    if (!run.failure.isOk()) {
      size_t at = run.results.size();
      return {run.failure,
              at < writeOfStmt.size() ? std::optional<size_t>(writeOfStmt[at]) : std::nullopt,
              at >= writeOfStmt.size() && at < combinedEnd};
    }
    if (r == rounds.size()) {  // the last pipeline, with COMMIT
      tx.ended();
      if (run.results.back().commandTag() == "ROLLBACK")
        return {Status::unavailable("postgres: the transaction was rolled back"), std::nullopt};
      return {Status::ok(), std::nullopt};
    }
    const PgResult& rows = run.results[run.results.size() - 2];
    const PgResult& records = run.results.back();
    std::map<std::string, int> rowOf, recordOf;
    for (int k = 0; k < rows.rows(); ++k) rowOf[rows.str(k, 5)] = k;
    for (int k = 0; k < records.rows(); ++k) recordOf[records.str(k, 5)] = k;
    stmts.clear();
    writeOfStmt.clear();
    Combined combined;
    for (size_t i : rounds[r]) {
      const StoreWrite& w = *writes[i];
      if (w.idempotencyKey) {
        auto it = recordOf.find(*w.idempotencyKey);
        if (it != recordOf.end() && records.i64(it->second, 4) > w.nowMs) {
          out[i] = replayOf(w, records, it->second);
          continue;
        }
      }
      auto row = rowOf.find(w.memberId);
      auto cur = row == rowOf.end() ? Result<std::optional<StoredMember>>(std::nullopt)
                                    : storedOfRow(w.memberId, rows, row->second);
      if (!cur.isOk()) {
        out[i] = cur.status();  // a corrupt row: this write fails, nothing of it is sent
        continue;
      }
      out[i] = planStatements(w, planWrite(w, *cur), stmts, combine ? &combined : nullptr);
      writeOfStmt.resize(stmts.size(), i);
    }
    combined.appendTo(stmts);
    combinedEnd = stmts.size();
    if (r + 1 < rounds.size()) {
      readsOf(rounds[r + 1], stmts);
    } else {
      stmts.push_back({nullptr, "COMMIT", {}});
    }
  }
}

}  // namespace memberflow::postgres
