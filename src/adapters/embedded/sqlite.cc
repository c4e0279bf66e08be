#include "adapters/embedded/sqlite.h"

#include <filesystem>

namespace memberflow::embedded {

Status sqliteStatus(sqlite3* db, int rc, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::ok();
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_IOERR ||
      primary == SQLITE_FULL || primary == SQLITE_CANTOPEN) {
    return Status::unavailable(std::move(msg));
  }
  if (primary == SQLITE_CONSTRAINT) return Status::alreadyExists(std::move(msg));
  return Status::internal(std::move(msg));
}

Result<bool> Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status s = sqliteStatus(db_, rc, "sqlite step");
  sqlite3_reset(s_);
  return s;
}

Status Stmt::run() {
  auto r = step();
  while (r.isOk() && *r) r = step();
  return r.status();
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::open(const std::string& path, const Options& opts) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = sqliteStatus(db, rc, "open " + path);
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<SqliteDb> out(new SqliteDb(db));
  sqlite3_busy_timeout(db, opts.busyTimeoutMs);
  MF_RETURN_IF_ERROR(out->exec("PRAGMA journal_mode=WAL"));
  MF_RETURN_IF_ERROR(
      out->exec(opts.synchronousFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  MF_RETURN_IF_ERROR(out->exec("PRAGMA foreign_keys=ON"));
  MF_RETURN_IF_ERROR(out->exec("PRAGMA wal_autocheckpoint=10000"));
  return out;
}

SqliteDb::~SqliteDb() {
  cache_.clear();
  sqlite3_close(db_);
}

Status SqliteDb::exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  return sqliteStatus(db_, rc, "sqlite exec");
}

Result<Stmt*> SqliteDb::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->reset();
    return it->second.get();
  }
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &st, nullptr);
  if (rc != SQLITE_OK) return sqliteStatus(db_, rc, "prepare");
  auto [pos, _] = cache_.emplace(sql, std::make_unique<Stmt>(db_, st));
  return pos->second.get();
}

}  // namespace memberflow::embedded
