#include "adapters/embedded/sqlite_audit_log.h"

namespace memberflow::embedded {

Result<std::unique_ptr<SqliteAuditLog>> SqliteAuditLog::open(const std::string& path,
                                                             const SqliteDb::Options& opts) {
  auto db = SqliteDb::open(path, opts);
  if (!db.isOk()) return db.status();
  MF_RETURN_IF_ERROR((*db)->exec(
      "CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
      " at INTEGER NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,"
      " count INTEGER NOT NULL, detail TEXT NOT NULL);"));
  return std::unique_ptr<SqliteAuditLog>(new SqliteAuditLog(std::move(db).value()));
}

Status SqliteAuditLog::append(const AuditEntry& e) {
  if (e.who.empty() || e.action.empty())
    return Status::invalidArgument("an audit entry needs who and what");
  std::lock_guard lock(mu_);
  MF_PREPARE(ins, *db_,
             "INSERT INTO audit(at, who, action, target, count, detail) VALUES(?, ?, ?, ?, ?, ?)");
  ins->bind(1, e.atMs).bind(2, e.who).bind(3, e.action).bind(4, e.target).bind(5, e.count);
  ins->bind(6, e.detail);
  return ins->run();
}

Result<std::vector<AuditEntry>> SqliteAuditLog::recent(size_t limit) {
  std::vector<AuditEntry> out;
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_,
             "SELECT seq, at, who, action, target, count, detail FROM audit"
             " ORDER BY seq DESC LIMIT ?");
  sel->bind(1, static_cast<int64_t>(limit));
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    AuditEntry e;
    e.seq = sel->i64(0);
    e.atMs = sel->i64(1);
    e.who = sel->str(2);
    e.action = sel->str(3);
    e.target = sel->str(4);
    e.count = sel->i64(5);
    e.detail = sel->str(6);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace memberflow::embedded
