#include "adapters/embedded/sqlite.h"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stop_token>
#include <thread>

#include "common/json.h"
#include "common/log.h"

namespace memberflow::embedded {
namespace {

// A statement of the connection's setup, retried while the file is locked, up to the busy
// timeout. Converting a new file to WAL takes its exclusive lock, and SQLite does not call the
// busy handler for that: a `memberflow status` opening the same new file as a starting `run`
// made the run exit with "database is locked" (about 1 start in 15 when they raced).
Status execRetryingLocked(SqliteDb& db, std::string_view sql, int timeoutMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    Status s = db.exec(sql);
    if (s.isOk() || s.code() != Code::kUnavailable ||
        std::chrono::steady_clock::now() >= deadline) {
      return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

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

// The background checkpoints' thread, on its own connection, and what it has done (copied:
// checkpoints that found every frame of a non-empty WAL copied) for waitForCheckpoint.
struct SqliteDb::Checkpointer {
  Checkpointer(sqlite3* ck, std::string path)
      : thread([this, ck, path](std::stop_token stop) { run(ck, path, stop); }) {}
  ~Checkpointer() {
    thread.request_stop();
    thread.join();
  }

  void run(sqlite3* ck, const std::string& path, std::stop_token stop) {
    int64_t lastWarned = -60000;
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, stop, std::chrono::milliseconds(kCheckpointMs),
                        [&] { return stop.stop_requested(); })) {
      lock.unlock();
      // PASSIVE: copies what no reader still needs, never waits for readers or writers. A
      // failure (busy) is retried at the next tick. As a statement, not
      // sqlite3_wal_checkpoint_v2: that is a no-op on a connection that has not yet read the
      // database, which does not know it is in WAL mode. Its row: busy, log, checkpointed.
      int64_t frames[2] = {-1, -2};
      int crc = sqlite3_exec(
          ck, "PRAGMA wal_checkpoint(PASSIVE)",
          [](void* out, int n, char** values, char**) {
            auto* f = static_cast<int64_t*>(out);
            if (n == 3 && values[1] && values[2]) {
              f[0] = std::strtoll(values[1], nullptr, 10);
              f[1] = std::strtoll(values[2], nullptr, 10);
            }
            return 0;
          },
          frames, nullptr);
      if (crc != SQLITE_OK && crc != SQLITE_BUSY) {
        int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
        if (now - lastWarned >= 60000) {
          lastWarned = now;  // at most a line a minute: the WAL grows until it succeeds
          log::warn("background checkpoint failed, will retry",
                    {"storage", {}, {}, {}, "retry", sqliteStatus(ck, crc, path).toString()});
        }
      }
      lock.lock();
      if (crc == SQLITE_OK && frames[0] > 0 && frames[0] == frames[1]) {
        ++copied;
        done.notify_all();
      }
    }
    lock.unlock();
    sqlite3_close(ck);
  }

  std::mutex mu;
  std::condition_variable_any cv;  // the tick, and stop
  std::condition_variable done;    // a checkpoint copied the whole WAL
  uint64_t copied = 0;             // under mu
  std::jthread thread;             // last: started once the rest exists
};

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
  for (std::string_view sql : {std::string_view("PRAGMA journal_mode=WAL"),
                               std::string_view(opts.synchronousFull ? "PRAGMA synchronous=FULL"
                                                                     : "PRAGMA synchronous=NORMAL"),
                               std::string_view("PRAGMA foreign_keys=ON"),
                               // Statement journals (one per savepointed write) and sorts stay
                               // in memory: as files under /var/tmp they cost a file's create,
                               // writes and unlink per transaction, and held member data there.
                               std::string_view("PRAGMA temp_store=MEMORY"),
                               std::string_view("PRAGMA wal_autocheckpoint=10000")}) {
    Status s = execRetryingLocked(*out, sql, opts.busyTimeoutMs);
    if (!s.isOk()) return Status(s.code(), "open " + path + ": " + s.message());
  }
  if (opts.backgroundCheckpoint) {
    // Commits checkpoint only past the backstop (see Options); the WAL file is cut back to
    // 64 MB after each reset.
    for (const std::string& sql :
         {"PRAGMA wal_autocheckpoint=" + std::to_string(opts.walBackstopPages),
          std::string("PRAGMA journal_size_limit=67108864")}) {
      Status s = execRetryingLocked(*out, sql, opts.busyTimeoutMs);
      if (!s.isOk()) return Status(s.code(), "open " + path + ": " + s.message());
    }
    sqlite3* ck = nullptr;
    rc = sqlite3_open_v2(path.c_str(), &ck, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      Status s = sqliteStatus(ck, rc, "open " + path + " for checkpoints");
      sqlite3_close(ck);
      return s;
    }
    out->checkpointer_ = std::make_unique<Checkpointer>(ck, path);
  }
  return out;
}

SqliteDb::SqliteDb(sqlite3* db) : db_(db) {}

namespace {
// Whether `table` exists and its CREATE TABLE statement contains `text` (has) or not.
enum class Definition { kAbsent, kHas, kLacks };
Result<Definition> tableDefinition(SqliteDb& db, const std::string& table, std::string_view text) {
  MF_PREPARE(sel, db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?");
  sel->bind(1, table);
  auto row = sel->step();
  if (!row.isOk()) return row.status();
  Definition d = !*row                                         ? Definition::kAbsent
                 : sel->str(0).find(text) != std::string::npos ? Definition::kHas
                                                               : Definition::kLacks;
  sel->reset();
  return d;
}

Status upgradeIfDefinition(SqliteDb& db, const std::string& table, std::string_view text,
                           Definition when, const std::string& sql) {
  auto before = tableDefinition(db, table, text);
  if (!before.isOk() || *before != when) return before.status();
  Transaction tx(db);
  MF_RETURN_IF_ERROR(tx.begin());
  auto still = tableDefinition(db, table, text);
  if (!still.isOk() || *still != when) return still.status();
  MF_RETURN_IF_ERROR(db.exec(sql));
  return tx.commit();
}
}  // namespace

Status upgradeIfDefinitionHas(SqliteDb& db, const std::string& table, std::string_view text,
                              const std::string& sql) {
  return upgradeIfDefinition(db, table, text, Definition::kHas, sql);
}

Status upgradeIfDefinitionLacks(SqliteDb& db, const std::string& table, std::string_view text,
                                const std::string& sql) {
  return upgradeIfDefinition(db, table, text, Definition::kLacks, sql);
}

bool SqliteDb::waitForCheckpoint(std::chrono::milliseconds timeout) {
  if (!checkpointer_) return false;
  Checkpointer& c = *checkpointer_;
  std::unique_lock lock(c.mu);
  // One may be under way since before the call: the second after it began after the call.
  uint64_t target = c.copied + 2;
  return c.done.wait_for(lock, timeout, [&] { return c.copied >= target; });
}

SqliteDb::~SqliteDb() {
  checkpointer_.reset();
  cache_.clear();
  sqlite3_close(db_);
}

Status SqliteDb::exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  // The statement's first words say which step failed (schema and pragmas: no member data).
  return sqliteStatus(db_, rc, "sqlite exec '" + s.substr(0, 40) + "'");
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

Status scrubDatabase(const std::string& path) {
  SqliteDb::Options opts;
  opts.busyTimeoutMs = 1000;  // a database in use is refused, not waited for
  auto db = SqliteDb::open(path, opts);
  if (!db.isOk()) return db.status();
  MF_RETURN_IF_ERROR((*db)->exec("PRAGMA secure_delete=ON"));
  // VACUUM builds a copy of the whole database: in temporary files, not in memory.
  MF_RETURN_IF_ERROR((*db)->exec("PRAGMA temp_store=FILE"));
  MF_RETURN_IF_ERROR((*db)->exec("VACUUM"));
  MF_PREPARE(cp, **db, "PRAGMA wal_checkpoint(TRUNCATE)");
  auto row = cp->step();
  if (!row.isOk()) return row.status();
  bool busy = *row && cp->i64(0) != 0;
  cp->reset();
  if (busy) return Status::failedPrecondition(path + " is in use: stop the pipeline");
  return Status::ok();
}

std::string attributesJson(const std::map<std::string, std::string>& attrs) {
  json::object o;
  for (const auto& [k, v] : attrs) o[k] = v;
  return json::serialize(o);
}

std::map<std::string, std::string> attributesFrom(const std::string& text) {
  std::map<std::string, std::string> out;
  auto v = parseJson(text);
  if (v.isOk() && v->is_object()) {
    for (const auto& kv : v->get_object()) {
      if (kv.value().is_string()) out[std::string(kv.key())] = std::string(kv.value().get_string());
    }
  }
  return out;
}

}  // namespace memberflow::embedded
