#include "adapters/embedded/sqlite_lake_journal.h"

namespace memberflow::embedded {

Result<std::unique_ptr<SqliteLakeJournal>> SqliteLakeJournal::open(const std::string& path,
                                                                   const SqliteDb::Options& opts) {
  auto db = SqliteDb::open(path, opts);
  if (!db.isOk()) return db.status();
  MF_RETURN_IF_ERROR((*db)->exec(
      "CREATE TABLE IF NOT EXISTS lake_events(event_id TEXT PRIMARY KEY, object_key TEXT NOT NULL)"
      " WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS lake_staged(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
      " object_key TEXT NOT NULL UNIQUE, content BLOB NOT NULL);"
      "CREATE TABLE IF NOT EXISTS lake_meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
      "INSERT OR IGNORE INTO lake_meta(k, v) VALUES('next_seq', 1);"));
  return std::unique_ptr<SqliteLakeJournal>(new SqliteLakeJournal(std::move(db).value()));
}

Result<int64_t> SqliteLakeJournal::reserve(size_t n) {
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_, "SELECT v FROM lake_meta WHERE k = 'next_seq'");
  MF_PREPARE(up, *db_, "UPDATE lake_meta SET v = v + ? WHERE k = 'next_seq'");
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  auto row = sel->step();
  if (!row.isOk()) return row.status();
  int64_t first = sel->i64(0);
  sel->reset();
  up->bind(1, static_cast<int64_t>(n));
  MF_RETURN_IF_ERROR(up->run());
  MF_RETURN_IF_ERROR(tx.commit());
  return first;
}

// The object key holding each event, "" for an event no object holds. REQUIRES: mu_ held.
Result<std::vector<std::string>> SqliteLakeJournal::keysOf(const std::vector<std::string>& ids) {
  MF_PREPARE(sel, *db_, "SELECT object_key FROM lake_events WHERE event_id = ?");
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const auto& id : ids) {
    sel->reset();
    sel->bind(1, id);
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    out.push_back(*row ? sel->str(0) : std::string());
    sel->reset();
  }
  return out;
}

Result<std::vector<bool>> SqliteLakeJournal::placed(const std::vector<std::string>& eventIds) {
  std::lock_guard lock(mu_);
  auto keys = keysOf(eventIds);
  if (!keys.isOk()) return keys.status();
  std::vector<bool> out;
  out.reserve(keys->size());
  for (const auto& k : *keys) out.push_back(!k.empty());
  return out;
}

Result<std::vector<std::string>> SqliteLakeJournal::objectsOf(
    const std::vector<std::string>& eventIds) {
  std::lock_guard lock(mu_);
  return keysOf(eventIds);
}

Status SqliteLakeJournal::stage(const StagedObject& object,
                                const std::vector<std::string>& eventIds) {
  std::lock_guard lock(mu_);
  MF_PREPARE(ev, *db_, "INSERT INTO lake_events(event_id, object_key) VALUES(?, ?)");
  MF_PREPARE(obj, *db_, "INSERT OR REPLACE INTO lake_staged(object_key, content) VALUES(?, ?)");
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  for (const auto& id : eventIds) {
    ev->reset();
    ev->bind(1, id).bind(2, object.key);
    MF_RETURN_IF_ERROR(ev->run());  // a placed id violates the key: AlreadyExists, rolled back
  }
  obj->bind(1, object.key);
  obj->bindBlob(2, object.content);
  MF_RETURN_IF_ERROR(obj->run());
  return tx.commit();
}

Result<std::vector<StagedObject>> SqliteLakeJournal::staged() {
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_, "SELECT object_key, content FROM lake_staged ORDER BY seq");
  std::vector<StagedObject> out;
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    out.push_back({sel->str(0), sel->str(1)});
  }
  return out;
}

Status SqliteLakeJournal::restage(const StagedObject& object) {
  std::lock_guard lock(mu_);
  MF_RETURN_IF_ERROR(db_->exec("PRAGMA secure_delete=ON"));
  MF_PREPARE(up, *db_, "UPDATE lake_staged SET content = ? WHERE object_key = ?");
  up->bindBlob(1, object.content);
  up->bind(2, object.key);
  MF_RETURN_IF_ERROR(up->run());
  if (db_->changes() == 0) return Status::notFound("lake object " + object.key + " is not staged");
  return Status::ok();
}

Status SqliteLakeJournal::written(const std::string& key) {
  std::lock_guard lock(mu_);
  MF_PREPARE(del, *db_, "DELETE FROM lake_staged WHERE object_key = ?");
  del->bind(1, key);
  return del->run();
}

}  // namespace memberflow::embedded
