#include "adapters/embedded/sqlite_ledger.h"

#include <algorithm>
#include <unordered_map>

#include "common/lookup.h"

namespace memberflow::embedded {
namespace {

constexpr const char* kEntryColumns =
    "SELECT claimed_at, completed_at, outcome, reason, archive_key, archive_line, expires_at,"
    " message_id FROM ledger";

// The entry of a row of kEntryColumns.
Result<LedgerEntry> entryFrom(const Stmt& s) {
  LedgerEntry e;
  e.claimedAtMs = s.i64(0);
  e.completedAtMs = s.i64(1);
  e.outcome.messageId = s.str(7);
  auto outcome = messageOutcomeNamed(s.str(2));
  if (!outcome) return Status::internal("ledger row with an unknown outcome");
  e.outcome.outcome = *outcome;
  e.outcome.reason = s.str(3);
  e.outcome.archiveKey = s.str(4);
  e.outcome.archiveLine = s.i64(5);
  e.expiresAtMs = s.i64(6);
  return e;
}

}  // namespace

Result<std::unique_ptr<SqliteLedger>> SqliteLedger::open(const std::string& path, int64_t ttlMs,
                                                         const SqliteDb::Options& opts) {
  auto db = SqliteDb::open(path, opts);
  if (!db.isOk()) return db.status();
  MF_RETURN_IF_ERROR((*db)->exec(
      "CREATE TABLE IF NOT EXISTS ledger(message_id TEXT PRIMARY KEY, claimed_at INTEGER NOT NULL,"
      " completed_at INTEGER NOT NULL DEFAULT 0, outcome TEXT NOT NULL DEFAULT '',"
      " reason TEXT NOT NULL DEFAULT '', archive_key TEXT NOT NULL DEFAULT '',"
      " archive_line INTEGER NOT NULL DEFAULT 0, expires_at INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE INDEX IF NOT EXISTS ledger_expiry ON ledger(expires_at);"));
  return std::unique_ptr<SqliteLedger>(new SqliteLedger(std::move(db).value(), ttlMs));
}

Result<std::vector<ClaimState>> SqliteLedger::claim(const std::vector<std::string>& ids,
                                                    int64_t nowMs) {
  std::lock_guard lock(mu_);
  MF_PREPARE(ins, *db_,
             "INSERT INTO ledger(message_id, claimed_at, expires_at) VALUES(?, ?, ?)"
             " ON CONFLICT(message_id) DO NOTHING");
  MF_PREPARE(sel, *db_, "SELECT completed_at, expires_at FROM ledger WHERE message_id = ?");
  MF_PREPARE(renew, *db_,
             "UPDATE ledger SET claimed_at = ?, completed_at = 0, outcome = '', reason = '',"
             " expires_at = ? WHERE message_id = ?");
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  std::vector<ClaimState> out;
  out.reserve(ids.size());
  for (const auto& id : ids) {
    ins->reset();
    ins->bind(1, id).bind(2, nowMs).bind(3, nowMs + ttlMs_);
    MF_RETURN_IF_ERROR(ins->run());
    if (db_->changes() == 1) {
      out.push_back(ClaimState::kClaimed);
      continue;
    }
    sel->reset();
    sel->bind(1, id);
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    int64_t completed = sel->i64(0), expires = sel->i64(1);
    sel->reset();
    if (expires <= nowMs) {
      // An expired entry is as good as absent: the DynamoDB TTL would have removed it.
      renew->reset();
      renew->bind(1, nowMs).bind(2, nowMs + ttlMs_).bind(3, id);
      MF_RETURN_IF_ERROR(renew->run());
      out.push_back(ClaimState::kClaimed);
    } else {
      out.push_back(completed != 0 ? ClaimState::kDone : ClaimState::kPending);
    }
  }
  MF_RETURN_IF_ERROR(tx.commit());
  return out;
}

Status SqliteLedger::complete(const std::vector<LedgerOutcome>& outcomes, int64_t nowMs) {
  std::lock_guard lock(mu_);
  MF_PREPARE(up, *db_,
             "UPDATE ledger SET completed_at = ?, outcome = ?, reason = ?, archive_key = ?,"
             " archive_line = ? WHERE message_id = ? AND completed_at = 0");
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  for (const auto& o : outcomes) {
    up->reset();
    up->bind(1, nowMs)
        .bind(2, std::string(name(o.outcome)))
        .bind(3, o.reason)
        .bind(4, o.archiveKey)
        .bind(5, o.archiveLine)
        .bind(6, o.messageId);
    MF_RETURN_IF_ERROR(up->run());
  }
  return tx.commit();
}

Result<LedgerEntry> SqliteLedger::get(const std::string& messageId) {
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_, std::string(kEntryColumns) + " WHERE message_id = ?");
  sel->bind(1, messageId);
  auto row = sel->step();
  if (!row.isOk()) return row.status();
  if (!*row) return Status::notFound("message id not in the ledger");
  auto e = entryFrom(*sel);
  sel->reset();
  return e;
}

Result<std::vector<std::optional<LedgerEntry>>> SqliteLedger::getMany(
    const std::vector<std::string>& ids) {
  std::lock_guard lock(mu_);
  // One statement of kGetManyChunk parameters for every chunk (one cached statement); the
  // parameters a last chunk leaves unbound are NULL, which IN matches with nothing.
  static const std::string kSql = [] {
    std::string sql = std::string(kEntryColumns) + " WHERE message_id IN (?";
    for (size_t i = 1; i < kGetManyChunk; ++i) sql += ",?";
    return sql + ")";
  }();
  MF_PREPARE(sel, *db_, kSql);
  std::unordered_map<std::string, LedgerEntry> found;
  for (size_t from = 0; from < ids.size(); from += kGetManyChunk) {
    sel->reset();
    for (size_t i = from; i < std::min(ids.size(), from + kGetManyChunk); ++i) {
      sel->bind(static_cast<int>(i - from + 1), ids[i]);
    }
    for (;;) {
      auto row = sel->step();
      if (!row.isOk()) return row.status();
      if (!*row) break;
      auto e = entryFrom(*sel);
      if (!e.isOk()) {
        sel->reset();
        return e.status();
      }
      std::string id = e->outcome.messageId;
      found.emplace(std::move(id), std::move(e).value());
    }
  }
  sel->reset();
  return inKeyOrder(ids, found);
}

Result<size_t> SqliteLedger::purgeExpired(int64_t nowMs) {
  std::lock_guard lock(mu_);
  MF_PREPARE(del, *db_, "DELETE FROM ledger WHERE expires_at <= ?");
  del->bind(1, nowMs);
  MF_RETURN_IF_ERROR(del->run());
  return static_cast<size_t>(db_->changes());
}

}  // namespace memberflow::embedded
