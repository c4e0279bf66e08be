// File: pg.h
// A thin layer over libpq: connections with lazily prepared statements, results, a bounded
// connection pool, and PostgreSQL errors mapped to Status once (SQLSTATE and the primary
// message only: DETAIL lines can quote row values, so they are never copied).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace memberflow::postgres {

using Param = std::optional<std::string>;  // nullopt: SQL NULL

class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&& o) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult();
  int rows() const;
  bool null(int row, int col) const;
  std::string str(int row, int col) const;
  int64_t i64(int row, int col) const;
  bool boolean(int row, int col) const { return str(row, col) == "t"; }
  int64_t affected() const;  // rows changed by INSERT / UPDATE / DELETE
  std::string commandTag() const;

 private:
  PGresult* r_;
};

// Whether libpq connection settings (keywords or a URI) carry a password. InvalidArgument
// when they do not parse (the message never repeats them).
Result<bool> conninfoHasPassword(const std::string& conninfo);

// Serialization failures and deadlocks: the transaction may simply be run again.
bool isRetryable(const Status& s);

class PgConn {
 public:
  static Result<std::unique_ptr<PgConn>> connect(const std::string& conninfo,
                                                 const std::string& password);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs a prepared statement (prepared on first use on this connection), text parameters.
  Result<PgResult> exec(const char* name, const char* sql, const std::vector<Param>& params = {});
  // Runs SQL without parameters (several statements allowed).
  Result<PgResult> run(const std::string& sql);
  // One statement of a pipeline: prepared under `name` on first use, or (name == nullptr) sent
  // unprepared, as BEGIN and COMMIT are.
  struct Stmt {
    const char* name;
    const char* sql;
    std::vector<Param> params;
  };
  // Sends the statements in one pipeline (one round trip) and returns their results in order.
  // The first failure is returned instead; the server skips every statement after it.
  Result<std::vector<PgResult>> pipeline(const std::vector<Stmt>& stmts);
  // The same, telling which statement failed: the results of the statements before it, in
  // order (so the failed one is stmts[results.size()]), and its failure. A connection that is
  // gone fails before any result.
  struct PipelineRun {
    std::vector<PgResult> results;
    Status failure;
  };
  PipelineRun pipelineRun(const std::vector<Stmt>& stmts);
  bool broken() const;
  // LISTEN support: the socket to wait on, and the notification payloads that have arrived
  // (Unavailable when the connection is gone).
  int socket() const;
  Result<std::vector<std::string>> notifications();

 private:
  explicit PgConn(PGconn* c) : c_(c) {}
  Status check(PGresult* r, int okStatus);
  PGconn* c_;
  std::set<std::string> prepared_;
};

struct PoolOptions {
  std::string conninfo;  // libpq keywords or a postgresql:// URI (without the password)
  std::string password;  // from the Secrets port; empty: conninfo or ~/.pgpass decide
  size_t size = 8;
  std::chrono::milliseconds acquireTimeout{5000};
};

// A bounded pool. Connections are opened on demand and dropped when broken, so a restarted
// server is reconnected to on the next acquire. Thread-safe.
class PgPool {
 public:
  explicit PgPool(PoolOptions o) : opts_(std::move(o)) {}
  ~PgPool();

  class Lease {
   public:
    Lease(PgPool* p, std::unique_ptr<PgConn> c) : pool_(p), conn_(std::move(c)) {}
    Lease(Lease&&) = default;
    ~Lease();
    PgConn& operator*() { return *conn_; }
    PgConn* operator->() { return conn_.get(); }

   private:
    PgPool* pool_;
    std::unique_ptr<PgConn> conn_;
  };

  // Unavailable when the server cannot be reached or every connection stays busy.
  Result<Lease> acquire();

 private:
  void release(std::unique_ptr<PgConn> c);
  PoolOptions opts_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConn>> idle_;
  size_t open_ = 0;
};

// A transaction on a leased connection: rolled back unless committed.
class PgTransaction {
 public:
  explicit PgTransaction(PgConn& c) : c_(c) {}
  ~PgTransaction();
  Status begin();
  Status commit();
  // For a BEGIN and COMMIT sent in a pipeline: the transaction is open / has ended.
  void opened() { open_ = true; }
  void ended() { open_ = false; }

 private:
  PgConn& c_;
  bool open_ = false;
};

// Array literals for $n::text[] and $n::bigint[] parameters (elements quoted and escaped).
std::string textArrayLiteral(const std::vector<std::string>& values);
std::string bigintArrayLiteral(const std::vector<int64_t>& values);

}  // namespace memberflow::postgres
