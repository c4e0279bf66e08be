#include "adapters/embedded/sqlite_delivery_log.h"

namespace memberflow::embedded {

Result<std::unique_ptr<SqliteDeliveryLog>> SqliteDeliveryLog::open(const std::string& path,
                                                                   const SqliteDb::Options& opts) {
  auto db = SqliteDb::open(path, opts);
  if (!db.isOk()) return db.status();
  // AUTOINCREMENT: a seq is never handed out twice, so a reconcile's cursor stays valid.
  MF_RETURN_IF_ERROR((*db)->exec(
      "CREATE TABLE IF NOT EXISTS deliveries(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
      " target TEXT NOT NULL, event_id TEXT NOT NULL, member_id TEXT NOT NULL,"
      " rule TEXT NOT NULL, delivered_at INTEGER NOT NULL, deliveries INTEGER NOT NULL DEFAULT 1,"
      " UNIQUE(target, event_id));"));
  return std::unique_ptr<SqliteDeliveryLog>(new SqliteDeliveryLog(std::move(db).value()));
}

Status SqliteDeliveryLog::record(const std::vector<DeliveryRecord>& delivered) {
  if (delivered.empty()) return Status::ok();
  for (const auto& d : delivered) {
    if (d.target.empty() || d.eventId.empty()) {
      return Status::invalidArgument("a delivery record needs a target and an event id");
    }
  }
  std::lock_guard lock(mu_);
  MF_PREPARE(ins, *db_,
             "INSERT INTO deliveries(target, event_id, member_id, rule, delivered_at)"
             " VALUES(?, ?, ?, ?, ?)"
             " ON CONFLICT(target, event_id) DO UPDATE SET deliveries = deliveries + 1");
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  for (const auto& d : delivered) {
    ins->reset();
    ins->bind(1, d.target).bind(2, d.eventId).bind(3, d.memberId).bind(4, d.rule);
    ins->bind(5, d.deliveredAtMs);
    MF_RETURN_IF_ERROR(ins->run());
  }
  return tx.commit();
}

Result<std::vector<DeliveryRecord>> SqliteDeliveryLog::scan(int64_t afterSeq, size_t limit) {
  std::vector<DeliveryRecord> out;
  if (limit == 0) return out;
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_,
             "SELECT seq, target, event_id, member_id, rule, delivered_at, deliveries"
             " FROM deliveries WHERE seq > ? ORDER BY seq LIMIT ?");
  sel->bind(1, afterSeq).bind(2, static_cast<int64_t>(limit));
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    DeliveryRecord r;
    r.seq = sel->i64(0);
    r.target = sel->str(1);
    r.eventId = sel->str(2);
    r.memberId = sel->str(3);
    r.rule = sel->str(4);
    r.deliveredAtMs = sel->i64(5);
    r.deliveries = sel->i64(6);
    out.push_back(std::move(r));
  }
  sel->reset();
  return out;
}

Result<std::vector<bool>> SqliteDeliveryLog::delivered(const std::vector<DeliveryKey>& keys) {
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_, "SELECT 1 FROM deliveries WHERE target = ? AND event_id = ?");
  std::vector<bool> out;
  out.reserve(keys.size());
  for (const auto& k : keys) {
    sel->reset();
    sel->bind(1, k.target).bind(2, k.eventId);
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    out.push_back(*row);
  }
  sel->reset();
  return out;
}

}  // namespace memberflow::embedded
