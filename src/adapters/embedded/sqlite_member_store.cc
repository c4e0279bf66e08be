#include "adapters/embedded/sqlite_member_store.h"

#include <algorithm>
#include <exception>

#include "common/crypto.h"
#include "domain/member_write.h"

namespace memberflow::embedded {
namespace {

// The history columns every reader selects, in this order, and the entry they make.
constexpr const char* kHistoryColumns =
    "version, op, event_id, message_id, source_sequence, changed_fields, lineage, applied_at";
HistoryEntry historyFrom(const Stmt& s, int first) {
  HistoryEntry h;
  h.version = s.i64(first);
  h.op = s.str(first + 1);
  h.eventId = s.str(first + 2);
  h.messageId = s.str(first + 3);
  h.sourceSequence = s.i64(first + 4);
  readHistoryJson(h, s.str(first + 5), s.str(first + 6));
  h.appliedAtMs = s.i64(first + 7);
  return h;
}

}  // namespace

Result<std::unique_ptr<SqliteMemberStore>> SqliteMemberStore::open(const std::string& path,
                                                                   const Options& opts) {
  auto db = SqliteDb::open(path, opts.db);
  if (!db.isOk()) return db.status();
  MF_RETURN_IF_ERROR((*db)->exec("PRAGMA cache_size=-32768"));
  MF_RETURN_IF_ERROR(prepareSchema(**db));
  return std::unique_ptr<SqliteMemberStore>(new SqliteMemberStore(std::move(db).value(), opts));
}

Result<std::optional<StoredMember>> SqliteMemberStore::load(const std::string& memberId) {
  MF_PREPARE(sel, *db_,
             "SELECT body, version, source_sequence, updated_at, deleted FROM members"
             " WHERE member_id = ?");
  sel->bind(1, memberId);
  auto row = sel->step();
  if (!row.isOk()) return row.status();
  if (!*row) return std::optional<StoredMember>{};
  StoredMember s;
  std::string body = sel->str(0);
  s.version = sel->i64(1);
  s.sourceSequence = sel->i64(2);
  s.updatedAtMs = sel->i64(3);
  s.deleted = sel->i64(4) != 0;
  sel->reset();
  MF_ASSIGN_OR_RETURN(s.member, memberOfRow(memberId, body));
  return std::optional<StoredMember>{std::move(s)};
}

Result<WriteOutcome> SqliteMemberStore::apply(const StoreWrite& w) {
  auto out = applyAll({&w});
  return std::move(out.front());
}

std::vector<Result<WriteOutcome>> SqliteMemberStore::applyAll(
    const std::vector<const StoreWrite*>& writes) {
  std::vector<Pending> mine;
  mine.reserve(writes.size());
  for (const StoreWrite* w : writes) mine.emplace_back(w);
  applyQueued(mine);
  std::vector<Result<WriteOutcome>> out;
  out.reserve(mine.size());
  for (auto& p : mine) out.push_back(std::move(p.outcome));
  return out;
}

void SqliteMemberStore::applyQueued(std::vector<Pending>& mine) {
  // A group takes whole batch writes (up to 500 each) and single writes queued, up to this many
  // writes, and always at least the first queued call's.
  constexpr size_t kMaxGroup = 512;
  if (mine.empty()) return;  // nothing to queue (an entry would outlive the call)
  std::unique_lock lock(queueMu_);
  queue_.push_back(&mine);
  auto allDone = [&] {
    return std::all_of(mine.begin(), mine.end(), [](const Pending& p) { return p.done; });
  };
  while (!allDone()) {
    if (leaderActive_) {
      queueCv_.wait(lock);
      continue;
    }
    // Lead: commit the calls queued so far (our own included) in one transaction.
    leaderActive_ = true;
    std::vector<Pending*> group;
    while (!queue_.empty() &&
           (group.empty() || group.size() + queue_.front()->size() <= kMaxGroup)) {
      for (Pending& p : *queue_.front()) group.push_back(&p);
      queue_.pop_front();
    }
    lock.unlock();
    commitGroup(group);
    lock.lock();
    for (Pending* p : group) p->done = true;
    leaderActive_ = false;
    queueCv_.notify_all();
  }
}

void SqliteMemberStore::commitGroup(std::vector<Pending*>& group) {
  std::lock_guard lock(mu_);
  auto failAll = [&](const Status& s) {
    for (Pending* p : group) p->outcome = s;
  };
  Transaction tx(*db_);
  if (Status s = tx.begin(); !s.isOk()) return failAll(s);
  int64_t lastNow = 0;
  // Prepared once and cached: sqlite3_exec would parse each statement for every write.
  auto run = [this](const char* sql) -> Status {
    MF_PREPARE(st, *db_, sql);
    return st->run();
  };
  for (Pending* p : group) {
    if (Status s = run("SAVEPOINT w"); !s.isOk()) return failAll(s);
    // A write that throws (a content callback's bug) fails alone, like any failed write: an
    // exception leaving the leader would strand every writer waiting on the group commit.
    try {
      p->outcome = applyLocked(*p->write);
    } catch (const std::exception&) {
      p->outcome = Status::internal("member write failed with an exception");
    }
    if (!p->outcome.isOk()) (void)run("ROLLBACK TO w");
    if (Status s = run("RELEASE w"); !s.isOk()) return failAll(s);
    lastNow = std::max(lastNow, p->write->nowMs);
  }
  if (Status s = tx.commit(); !s.isOk()) return failAll(s);  // nothing of the group applied
  writes_ += group.size();
  if (writes_ >= 1000) {
    writes_ = 0;
    auto purge = db_->prepare("DELETE FROM write_replays WHERE expires_at <= ?");
    if (purge.isOk()) {
      (*purge)->bind(1, lastNow);
      (void)(*purge)->run();
    }
  }
}

Result<WriteOutcome> SqliteMemberStore::applyLocked(const StoreWrite& w) {
  WriteOutcome out;
  if (w.idempotencyKey) {
    MF_PREPARE(sel, *db_,
               "SELECT fingerprint, result, member, version FROM write_replays WHERE key = ?"
               " AND expires_at > ?");
    sel->bind(1, *w.idempotencyKey).bind(2, w.nowMs);
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (*row) {
      bool same = sel->str(0) == w.requestFingerprint;
      auto replay = replayOutcome(
          sel->str(1), {sel->str(2), sel->isNull(3) ? std::nullopt : std::optional(sel->i64(3))});
      sel->reset();
      if (!same) {
        out.result = WriteResult::kKeyReused;
        return out;
      }
      return replay;
    }
  }

  auto loaded = load(w.memberId);
  if (!loaded.isOk()) return loaded.status();
  WritePlan plan = planWrite(w, *loaded);
  switch (plan.action) {
    case WritePlan::Action::kNothing: break;
    case WritePlan::Action::kGuardUnknown: {
      MF_PREPARE(up, *db_,
                 "INSERT INTO members(member_id, body, version, source_sequence, updated_at,"
                 " deleted) VALUES(?1, '', 0, ?2, ?3, 1) ON CONFLICT(member_id) DO UPDATE SET"
                 " source_sequence = max(source_sequence, ?2)");
      up->bind(1, w.memberId).bind(2, plan.next.sourceSequence).bind(3, plan.next.updatedAtMs);
      MF_RETURN_IF_ERROR(up->run());
      break;
    }
    case WritePlan::Action::kSequenceOnly: {
      MF_PREPARE(up, *db_, "UPDATE members SET source_sequence = ? WHERE member_id = ?");
      up->bind(1, plan.next.sourceSequence).bind(2, w.memberId);
      MF_RETURN_IF_ERROR(up->run());
      break;
    }
    case WritePlan::Action::kWrite: {
      const StoredMember& next = plan.next;
      MF_PREPARE(
          upsert, *db_,
          "INSERT INTO members(member_id, body, version, source_sequence, updated_at, deleted)"
          " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(member_id) DO UPDATE SET body = ?2,"
          " version = ?3, source_sequence = ?4, updated_at = ?5, deleted = ?6");
      upsert->bind(1, w.memberId)
          .bind(2, plan.body)
          .bind(3, next.version)
          .bind(4, next.sourceSequence)
          .bind(5, next.updatedAtMs)
          .bind(6, next.deleted ? 1 : 0);
      MF_RETURN_IF_ERROR(upsert->run());
      MF_PREPARE(
          hist, *db_,
          "INSERT INTO history(member_id, version, op, event_id, message_id, source_sequence,"
          " changed_fields, lineage, applied_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
      hist->bind(1, w.memberId)
          .bind(2, next.version)
          .bind(3, plan.event.type.substr(7))
          .bind(4, plan.event.id)
          .bind(5, w.messageId)
          .bind(6, next.sourceSequence)
          .bind(7, plan.changedFieldsJson)
          .bind(8, plan.lineageJson)
          .bind(9, w.nowMs);
      MF_RETURN_IF_ERROR(hist->run());
      MF_PREPARE(ob, *db_,
                 "INSERT INTO outbox(event_id, member_id, event, created_at) VALUES(?, ?, ?, ?)");
      ob->bind(1, plan.event.id).bind(2, w.memberId).bind(3, plan.eventJson).bind(4, w.nowMs);
      MF_RETURN_IF_ERROR(ob->run());
      break;
    }
  }
  out = std::move(plan.outcome);
  if (!w.messageId.empty() && plan.action != WritePlan::Action::kWrite &&
      recordedOutcome(out.result)) {
    MF_PREPARE(rec, *db_,
               "INSERT INTO write_outcomes(message_id, member_id, result, at) VALUES(?, ?, ?, ?)");
    rec->bind(1, w.messageId)
        .bind(2, w.memberId)
        .bind(3, std::string(name(out.result)))
        .bind(4, w.nowMs);
    MF_RETURN_IF_ERROR(rec->run());
  }
  // Only writes that took effect are replayed; a failure changed nothing and is evaluated
  // afresh on a retry (a stale change stays stale, a fixed one passes).
  if (w.idempotencyKey && keptForReplay(out.result)) {
    MF_PREPARE(ins, *db_,
               "INSERT OR REPLACE INTO write_replays(key, fingerprint, result, member, expires_at,"
               " version) VALUES(?, ?, ?, ?, ?, ?)");
    ReplayRecord kept = replayRecord(w, out);
    ins->bind(1, *w.idempotencyKey)
        .bind(2, w.requestFingerprint)
        .bind(3, std::string(name(out.result)))
        .bind(4, kept.member)
        .bind(5, w.nowMs + opts_.idempotencyTtlMs);
    if (kept.version) {
      ins->bind(6, *kept.version);
    } else {
      ins->bindNull(6);
    }
    MF_RETURN_IF_ERROR(ins->run());
  }
  return out;
}

Result<std::vector<HistoryRow>> SqliteMemberStore::scanHistory(int64_t afterSeq, size_t limit) {
  std::lock_guard lock(mu_);
  static const std::string sql = std::string("SELECT seq, member_id, ") + kHistoryColumns +
                                 " FROM history WHERE seq > ? ORDER BY seq LIMIT ?";
  MF_PREPARE(sel, *db_, sql.c_str());
  sel->bind(1, afterSeq).bind(2, static_cast<int64_t>(limit));
  std::vector<HistoryRow> out;
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    HistoryRow r;
    r.seq = sel->i64(0);
    r.memberId = sel->str(1);
    r.entry = historyFrom(*sel, 2);
    out.push_back(std::move(r));
  }
  return out;
}

namespace {
// The rows a prepared, bound SELECT of write_outcomes (seq, message_id, member_id, result, at)
// returns.
Result<std::vector<WriteOutcomeRow>> outcomeRows(Stmt* sel) {
  std::vector<WriteOutcomeRow> out;
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    out.push_back({sel->i64(0), sel->str(1), sel->str(2), sel->str(3), sel->i64(4)});
  }
  return out;
}
}  // namespace

Result<std::vector<WriteOutcomeRow>> SqliteMemberStore::scanOutcomes(int64_t afterSeq,
                                                                     size_t limit) {
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_,
             "SELECT seq, message_id, member_id, result, at FROM write_outcomes WHERE seq > ?"
             " ORDER BY seq LIMIT ?");
  sel->bind(1, afterSeq).bind(2, static_cast<int64_t>(limit));
  return outcomeRows(sel);
}

Result<std::vector<WriteOutcomeRow>> SqliteMemberStore::outcomesOf(const std::string& memberId) {
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_,
             "SELECT seq, message_id, member_id, result, at FROM write_outcomes"
             " WHERE member_id = ? ORDER BY seq");
  sel->bind(1, memberId);
  return outcomeRows(sel);
}

Result<StoredMember> SqliteMemberStore::get(const std::string& memberId) {
  std::lock_guard lock(mu_);
  auto m = load(memberId);
  if (!m.isOk()) return m.status();
  if (!*m) return Status::notFound("member not found");
  return std::move(**m);
}

Result<std::vector<HistoryEntry>> SqliteMemberStore::history(const std::string& memberId) {
  std::lock_guard lock(mu_);
  static const std::string sql =
      std::string("SELECT ") + kHistoryColumns + " FROM history WHERE member_id = ? ORDER BY seq";
  MF_PREPARE(sel, *db_, sql.c_str());
  sel->bind(1, memberId);
  std::vector<HistoryEntry> out;
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    out.push_back(historyFrom(*sel, 0));
  }
  if (out.empty()) {
    auto m = load(memberId);
    if (!m.isOk()) return m.status();
    if (!*m) return Status::notFound("member not found");
  }
  return out;
}

Result<MemberPage> SqliteMemberStore::listUpdated(int64_t sinceMs, const std::string& cursor,
                                                  size_t limit) {
  auto after = listPosition(sinceMs, cursor);
  if (!after.isOk()) return after.status();
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_,
             "SELECT member_id, body, version, source_sequence, updated_at FROM members"
             " WHERE deleted = 0 AND updated_at >= ?1 AND (updated_at > ?2 OR"
             " (updated_at = ?2 AND member_id > ?3)) ORDER BY updated_at, member_id LIMIT ?4");
  sel->bind(1, sinceMs)
      .bind(2, after->afterUpdatedAtMs)
      .bind(3, after->afterMemberId)
      .bind(4, static_cast<int64_t>(limit + 1));
  MemberPage page;
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    if (page.members.size() == limit) {
      const auto& last = page.members.back();
      page.nextCursor = listCursor(last);
      sel->reset();
      break;
    }
    StoredMember s;
    auto m = memberFromStoredBody(sel->str(1));
    if (!m.isOk()) return m.status();
    s.member = std::move(m).value();
    s.version = sel->i64(2);
    s.sourceSequence = sel->i64(3);
    s.updatedAtMs = sel->i64(4);
    page.members.push_back(std::move(s));
  }
  return page;
}

Result<std::vector<OutboxEntry>> SqliteMemberStore::outbox(size_t limit) {
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_,
             "SELECT seq, event_id, member_id, event, created_at FROM outbox ORDER BY seq LIMIT ?");
  sel->bind(1, static_cast<int64_t>(limit));
  std::vector<OutboxEntry> out;
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    out.push_back({sel->i64(0), sel->str(1), sel->str(2), sel->str(3), sel->i64(4)});
  }
  return out;
}

Result<int64_t> SqliteMemberStore::outboxCount() {
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_, "SELECT count(*) FROM outbox");
  auto row = sel->step();
  if (!row.isOk()) return row.status();
  int64_t n = sel->i64(0);
  sel->reset();
  return n;
}

Result<int64_t> SqliteMemberStore::historyHighWater() {
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_, "SELECT coalesce(max(seq), 0) FROM history");
  auto row = sel->step();
  if (!row.isOk()) return row.status();
  int64_t n = sel->i64(0);
  sel->reset();
  return n;
}

Status SqliteMemberStore::deleteOutbox(const std::vector<int64_t>& seqs) {
  std::lock_guard lock(mu_);
  MF_PREPARE(del, *db_, "DELETE FROM outbox WHERE seq = ?");
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  for (int64_t s : seqs) {
    del->reset();
    del->bind(1, s);
    MF_RETURN_IF_ERROR(del->run());
  }
  return tx.commit();
}

Status SqliteMemberStore::ping() {
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_, "SELECT 1");
  auto r = sel->step();
  sel->reset();
  return r.status();
}

}  // namespace memberflow::embedded
