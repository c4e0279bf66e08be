#include "adapters/embedded/sqlite_parking_store.h"

#include "common/json.h"

namespace memberflow::embedded {
namespace {

constexpr const char* kParked = "parked";
constexpr const char* kReleased = "released";
// A member done() unparked (or erase() forgot): its row stays, without dead change and reason,
// and keeps the seq counters, so a later parking goes on from them. Not parked for every method.
constexpr const char* kUnparked = "unparked";

// Columns 0..4 of a members row and the count of its held changes in column 5.
ParkedMember memberFrom(const Stmt& s) {
  ParkedMember m;
  m.memberId = s.str(0);
  m.state = s.str(1) == kReleased ? ParkedMember::State::kReleased : ParkedMember::State::kParked;
  m.deadMessageId = s.str(2);
  m.reason = s.str(3);
  m.parkedAtMs = s.i64(4);
  m.held = s.i64(5);
  return m;
}

constexpr const char* kSelectMember =
    "SELECT m.member_id, m.state, m.dead_message_id, m.reason, m.parked_at,"
    " (SELECT COUNT(*) FROM held h WHERE h.member_id = m.member_id) FROM members m";

}  // namespace

Result<std::unique_ptr<SqliteParkingStore>> SqliteParkingStore::open(
    const std::string& path, const SqliteDb::Options& opts) {
  auto db = SqliteDb::open(path, opts);
  if (!db.isOk()) return db.status();
  // Seqs come from two counters per member, never from the rows left: hold takes next_seq
  // upwards, release takes head_seq downwards (below every seq handed out). The member's row
  // outlives its parking (state 'unparked'), counters and all, so a seq is never handed out
  // twice for a member, and a repeated or late done() (from a drain of an earlier parking)
  // cannot remove a change held after it.
  MF_RETURN_IF_ERROR((*db)->exec(
      "CREATE TABLE IF NOT EXISTS members(member_id TEXT PRIMARY KEY, state TEXT NOT NULL,"
      " dead_message_id TEXT NOT NULL, reason TEXT NOT NULL, parked_at INTEGER NOT NULL,"
      " next_seq INTEGER NOT NULL DEFAULT 1, head_seq INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
      "CREATE INDEX IF NOT EXISTS members_parked_at ON members(parked_at, member_id);"
      // The members parked or released now (state() asks it first, for every batch of sync):
      // the rows of unparked members stay forever, this index holds only the others.
      "CREATE INDEX IF NOT EXISTS members_in_parking ON members(member_id)"
      " WHERE state <> 'unparked';"
      "CREATE TABLE IF NOT EXISTS held(member_id TEXT NOT NULL, seq INTEGER NOT NULL,"
      " message_id TEXT NOT NULL, body BLOB NOT NULL, attributes TEXT NOT NULL,"
      " held_at INTEGER NOT NULL, PRIMARY KEY(member_id, seq), UNIQUE(member_id, message_id))"
      " WITHOUT ROWID;"));
  return std::unique_ptr<SqliteParkingStore>(new SqliteParkingStore(std::move(db).value()));
}

Status SqliteParkingStore::park(const std::string& memberId, const std::string& deadMessageId,
                                const std::string& reason, int64_t nowMs) {
  std::lock_guard lock(mu_);
  // parked_at stays when the member is parked already (or again): its oldest held change may
  // date from then. An unparked member's row is parked anew, keeping its seq counters.
  MF_PREPARE(up, *db_,
             "INSERT INTO members(member_id, state, dead_message_id, reason, parked_at)"
             " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(member_id) DO UPDATE SET state = ?2,"
             " dead_message_id = ?3, reason = ?4,"
             " parked_at = CASE members.state WHEN ?6 THEN ?5 ELSE members.parked_at END");
  up->bind(1, memberId).bind(2, kParked).bind(3, deadMessageId).bind(4, reason).bind(5, nowMs);
  up->bind(6, kUnparked);
  return up->run();
}

Result<std::vector<std::optional<ParkedMember>>> SqliteParkingStore::state(
    const std::vector<std::string>& memberIds) {
  std::lock_guard lock(mu_);
  std::vector<std::optional<ParkedMember>> out;
  out.reserve(memberIds.size());
  // Almost always nobody is parked: one look at the partial index instead of a lookup for
  // each member of the batch. It sees what those lookups would have seen, made at once.
  MF_PREPARE(any, *db_,
             "SELECT 1 FROM members INDEXED BY members_in_parking WHERE state <> 'unparked'"
             " LIMIT 1");
  auto some = any->step();
  if (!some.isOk()) return some.status();
  any->reset();
  if (!*some) {
    out.resize(memberIds.size());
    return out;
  }
  MF_PREPARE(sel, *db_, std::string(kSelectMember) + " WHERE m.member_id = ? AND m.state <> ?");
  for (const auto& id : memberIds) {
    sel->reset();
    sel->bind(1, id).bind(2, kUnparked);
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    out.push_back(*row ? std::optional<ParkedMember>(memberFrom(*sel)) : std::nullopt);
  }
  sel->reset();
  return out;
}

Status SqliteParkingStore::insertHeld(const std::string& memberId, int64_t seq,
                                      const ParkedChange& c, int64_t nowMs) {
  MF_PREPARE(ins, *db_,
             "INSERT INTO held(member_id, seq, message_id, body, attributes, held_at)"
             " VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(member_id, message_id) DO NOTHING");
  ins->bind(1, memberId).bind(2, seq).bind(3, c.messageId);
  ins->bindBlob(4, c.body);
  ins->bind(5, attributesJson(c.attributes)).bind(6, nowMs);
  return ins->run();
}

Status SqliteParkingStore::hold(const std::string& memberId,
                                const std::vector<ParkedChange>& changes, int64_t nowMs) {
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_, "SELECT next_seq FROM members WHERE member_id = ? AND state <> ?");
  MF_PREPARE(up, *db_, "UPDATE members SET next_seq = ? WHERE member_id = ?");
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  sel->bind(1, memberId).bind(2, kUnparked);
  auto row = sel->step();
  if (!row.isOk()) return row.status();
  if (!*row) return Status::failedPrecondition("member is not parked");
  int64_t next = sel->i64(0);
  sel->reset();
  for (const auto& c : changes) {
    MF_RETURN_IF_ERROR(insertHeld(memberId, next, c, nowMs));
    if (db_->changes() == 1) ++next;  // else held already: a redelivered message
  }
  up->bind(1, next).bind(2, memberId);
  MF_RETURN_IF_ERROR(up->run());
  return tx.commit();
}

Status SqliteParkingStore::release(const std::string& memberId,
                                   const std::optional<ParkedChange>& head, int64_t nowMs) {
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_, "SELECT head_seq FROM members WHERE member_id = ? AND state <> ?");
  MF_PREPARE(up, *db_, "UPDATE members SET state = ?, head_seq = ? WHERE member_id = ?");
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  sel->bind(1, memberId).bind(2, kUnparked);
  auto row = sel->step();
  if (!row.isOk()) return row.status();
  if (!*row) return Status::notFound("member is not parked");
  int64_t headSeq = sel->i64(0);
  sel->reset();
  if (head) {
    MF_RETURN_IF_ERROR(insertHeld(memberId, headSeq, *head, nowMs));
    if (db_->changes() == 1) --headSeq;  // else held already: released before
  }
  up->bind(1, kReleased).bind(2, headSeq).bind(3, memberId);
  MF_RETURN_IF_ERROR(up->run());
  return tx.commit();
}

Result<std::vector<ParkedChange>> SqliteParkingStore::held(const std::string& memberId,
                                                           size_t max) {
  std::vector<ParkedChange> out;
  if (max == 0) return out;
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_,
             "SELECT seq, message_id, body, attributes, held_at FROM held WHERE member_id = ?"
             " ORDER BY seq LIMIT ?");
  sel->bind(1, memberId).bind(2, static_cast<int64_t>(max));
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    ParkedChange c;
    c.seq = sel->i64(0);
    c.messageId = sel->str(1);
    c.body = sel->str(2);
    c.attributes = attributesFrom(sel->str(3));
    c.heldAtMs = sel->i64(4);
    out.push_back(std::move(c));
  }
  sel->reset();
  return out;
}

Result<bool> SqliteParkingStore::done(const std::string& memberId,
                                      const std::vector<int64_t>& seqs) {
  std::lock_guard lock(mu_);
  MF_PREPARE(del, *db_, "DELETE FROM held WHERE member_id = ? AND seq = ?");
  // One statement checks and unparks: a released member with no held change left. Its row
  // stays, unparked, with its seq counters.
  MF_PREPARE(unpark, *db_,
             "UPDATE members SET state = ?3, dead_message_id = '', reason = ''"
             " WHERE member_id = ?1 AND state = ?2 AND NOT EXISTS"
             " (SELECT 1 FROM held WHERE member_id = ?1)");
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  for (int64_t seq : seqs) {
    del->reset();
    del->bind(1, memberId).bind(2, seq);
    MF_RETURN_IF_ERROR(del->run());
  }
  unpark->bind(1, memberId).bind(2, kReleased).bind(3, kUnparked);
  MF_RETURN_IF_ERROR(unpark->run());
  bool unparked = db_->changes() == 1;
  MF_RETURN_IF_ERROR(tx.commit());
  return unparked;
}

Result<std::vector<std::string>> SqliteParkingStore::released(size_t max) {
  std::vector<std::string> out;
  if (max == 0) return out;
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_,
             "SELECT member_id FROM members WHERE state = ? ORDER BY parked_at, member_id LIMIT ?");
  sel->bind(1, kReleased).bind(2, static_cast<int64_t>(max));
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    out.push_back(sel->str(0));
  }
  sel->reset();
  return out;
}

Result<std::vector<ParkedMember>> SqliteParkingStore::list(size_t max) {
  std::vector<ParkedMember> out;
  if (max == 0) return out;
  std::lock_guard lock(mu_);
  MF_PREPARE(
      sel, *db_,
      std::string(kSelectMember) + " WHERE m.state <> ? ORDER BY m.parked_at, m.member_id LIMIT ?");
  sel->bind(1, kUnparked).bind(2, static_cast<int64_t>(max));
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    out.push_back(memberFrom(*sel));
  }
  sel->reset();
  return out;
}

Result<int64_t> SqliteParkingStore::erase(const std::string& memberId) {
  std::lock_guard lock(mu_);
  MF_RETURN_IF_ERROR(db_->exec("PRAGMA secure_delete=ON"));
  MF_PREPARE(held, *db_, "DELETE FROM held WHERE member_id = ?");
  // Unparked, not deleted: the row keeps only the seq counters (seqs never repeat, as after
  // done()); its dead change and reason are overwritten.
  MF_PREPARE(
      member, *db_,
      "UPDATE members SET state = ?2, dead_message_id = '', reason = '' WHERE member_id = ?1");
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  held->bind(1, memberId);
  MF_RETURN_IF_ERROR(held->run());
  int64_t n = db_->changes();
  member->bind(1, memberId).bind(2, kUnparked);
  MF_RETURN_IF_ERROR(member->run());
  MF_RETURN_IF_ERROR(tx.commit());
  return n;
}

}  // namespace memberflow::embedded
