// File: sqlite.h
// A thin RAII layer over SQLite for the embedded adapters: WAL mode, busy timeout, cached
// prepared statements, and SQLite errors mapped to Status once, here.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

namespace memberflow::embedded {

Status sqliteStatus(sqlite3* db, int rc, std::string_view what);

class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, int v) {
    sqlite3_bind_int(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, const std::optional<std::string>& v) {
    if (v) return bind(i, std::string_view(*v));
    sqlite3_bind_null(s_, i);
    return *this;
  }
  Stmt& bindNull(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }

  // true: a row is available; false: done.
  Result<bool> step();
  // Runs to completion (for writes).
  Status run();
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

  int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  bool isNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string str(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(s_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }
  std::optional<std::string> optStr(int col) const {
    if (isNull(col)) return std::nullopt;
    return str(col);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
};

// One connection. Not thread-safe: the owning adapter serialises access.
class SqliteDb {
 public:
  struct Options {
    bool synchronousFull = false;  // FULL: fsync every commit; NORMAL: durable across
                                   // process crashes, fsync at checkpoints (WAL)
    int busyTimeoutMs = 10000;
    // Checkpoints run on a thread of their own (a second connection, PASSIVE, every
    // kCheckpointMs) instead of in the commit that fills the WAL: a checkpoint copied up to
    // ~40 MB and stalled that commit, and every writer behind it, for tens of milliseconds
    // (the p99 of produce -> applied at 5,000/s: 126-179 ms with autocheckpoint, 35-60 ms so
    // in the same hour; small frequent checkpoints beat 100 ms and 1 s ones). For `run`.
    // Past walBackstopPages of WAL each commit also tries a checkpoint (PASSIVE; while the
    // thread's holds the checkpoint lock the try gives up at once, and a later commit's
    // succeeds). Under writes back to back the thread's checkpoint never finds the WAL wholly
    // copied when the next write begins, the only moment SQLite restarts the WAL from its
    // start, and the WAL grew for as long as the load lasted (queues.db: 909 MB after 9 s of
    // the fan-out), each frame written past the end of the file. The thread has copied all but
    // the last milliseconds' frames by then, so the commit copies little; it still fsyncs the
    // WAL and the database on the committing thread, about once a second under full load at
    // 16,384 pages (64 MB, journal_size_limit's size too; 1,024 and 4,096 measured the same
    // CPU a change in the fan-out).
    bool backgroundCheckpoint = false;
    int walBackstopPages = 16384;  // with backgroundCheckpoint
  };
  static constexpr int kCheckpointMs = 20;
  static Result<std::unique_ptr<SqliteDb>> open(const std::string& path, const Options& opts);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  Status exec(std::string_view sql);
  // A cached prepared statement, reset and ready to bind. Valid until the db closes.
  Result<Stmt*> prepare(const std::string& sql);
  int64_t changes() const { return sqlite3_changes64(db_); }
  sqlite3* handle() { return db_; }
  // With backgroundCheckpoint: waits until a checkpoint that began after this call has copied
  // every frame of the WAL into the database file (what this connection committed before the
  // call is in the file then). False at the timeout, or without backgroundCheckpoint.
  bool waitForCheckpoint(std::chrono::milliseconds timeout);

 private:
  struct Checkpointer;
  explicit SqliteDb(sqlite3* db);
  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cache_;
  std::unique_ptr<Checkpointer> checkpointer_;  // with Options::backgroundCheckpoint
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless committed.
class Transaction {
 public:
  explicit Transaction(SqliteDb& db) : db_(db) {}
  ~Transaction() {
    if (open_) (void)db_.exec("ROLLBACK");
  }
  Status begin() {
    MF_RETURN_IF_ERROR(db_.exec("BEGIN IMMEDIATE"));
    open_ = true;
    return Status::ok();
  }
  Status commit() {
    Status s = db_.exec("COMMIT");
    if (s.isOk()) open_ = false;
    return s;
  }

 private:
  SqliteDb& db_;
  bool open_ = false;
};

// Leaves no trace of deleted rows in the files of the database at `path` (`memberflow erase`):
// with secure_delete on, VACUUM rewrites every page (free pages included) and a TRUNCATE
// checkpoint copies the WAL into the file and empties it. FailedPrecondition: another connection
// holds the database (a running pipeline), so the WAL could not be emptied.
Status scrubDatabase(const std::string& path);

// The upgrade of a data directory made by an earlier release: runs `sql` (one or more
// statements) in one write transaction when `table` exists and its CREATE TABLE statement
// contains `text` ("": whenever it exists). Asked first
// without the write lock, so that opening an up-to-date database takes none, and again under
// it: another connection may have done the upgrade meanwhile.
Status upgradeIfDefinitionHas(SqliteDb& db, const std::string& table, std::string_view text,
                              const std::string& sql);
// The same when `table` exists and its CREATE TABLE statement lacks `text` (a column an
// earlier release did not have: ALTER TABLE ... ADD COLUMN updates that statement).
Status upgradeIfDefinitionLacks(SqliteDb& db, const std::string& table, std::string_view text,
                                const std::string& sql);

#define MF_PREPARE(var, db, sql)              \
  Stmt* var = nullptr;                        \
  {                                           \
    auto mf_p_ = (db).prepare(sql);           \
    if (!mf_p_.isOk()) return mf_p_.status(); \
    var = *mf_p_;                             \
  }

// Message attributes as stored in a TEXT column (a JSON object of strings), and back; a
// malformed column reads as no attributes. The queues and the parking store keep them so.
std::string attributesJson(const std::map<std::string, std::string>& attrs);
std::map<std::string, std::string> attributesFrom(const std::string& text);

}  // namespace memberflow::embedded
