#include "adapters/postgres/pg.h"

#include <libpq-fe.h>

#include <cstdlib>

#include "common/log.h"

namespace memberflow::postgres {
namespace {

// SQLSTATE classes and codes worth a retry of the whole operation, later: the connection is
// gone (08), the server is shutting down or starting (57P01..57P03), too many connections.
bool unavailableState(const std::string& st) {
  return st.rfind("08", 0) == 0 || st == "57P01" || st == "57P02" || st == "57P03" || st == "53300";
}

Status fromResult(PGconn* c, PGresult* r) {
  const char* st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string state = st ? st : "";
  std::string msg = "postgres: " + (state.empty() ? std::string("no SQLSTATE") : state) + " " +
                    (primary ? std::string(primary).substr(0, 200)
                             : std::string(PQerrorMessage(c)).substr(0, 200));
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (PQstatus(c) != CONNECTION_OK || state.empty() || unavailableState(state))
    return Status::unavailable(msg);
  if (state == "40001" || state == "40P01")
    return Status::unavailable(msg).withReason("serialization_failure");
  if (state == "23505") return Status::alreadyExists(msg);
  return Status::internal(msg);
}

}  // namespace

PgResult& PgResult::operator=(PgResult&& o) noexcept {
  if (this != &o) {
    if (r_) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}
PgResult::~PgResult() {
  if (r_) PQclear(r_);
}
int PgResult::rows() const { return r_ ? PQntuples(r_) : 0; }
bool PgResult::null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
std::string PgResult::str(int row, int col) const {
  return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}
int64_t PgResult::i64(int row, int col) const {
  return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10);
}
std::string PgResult::commandTag() const { return r_ ? PQcmdStatus(r_) : ""; }
int64_t PgResult::affected() const {
  const char* n = r_ ? PQcmdTuples(r_) : "";
  return *n ? std::strtoll(n, nullptr, 10) : 0;
}

Result<bool> conninfoHasPassword(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    if (err) PQfreemem(err);
    return Status::invalidArgument("not valid libpq connection settings");
  }
  bool has = false;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (std::string(o->keyword) == "password" && o->val && *o->val) has = true;
  }
  PQconninfoFree(opts);
  return has;
}

bool isRetryable(const Status& s) {
  return s.code() == Code::kUnavailable && s.reason() == "serialization_failure";
}

Result<std::unique_ptr<PgConn>> PgConn::connect(const std::string& conninfo,
                                                const std::string& password) {
  const char* keys[] = {"dbname", "password", "connect_timeout", "application_name", nullptr};
  const char* values[] = {conninfo.c_str(), password.empty() ? nullptr : password.c_str(), "5",
                          "memberflow", nullptr};
  // expand_dbname: conninfo may be a URI or keywords; the password stays out of it (and of logs).
  PGconn* c = PQconnectdbParams(keys, values, 1);
  if (!c) return Status::unavailable("postgres: out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = PQerrorMessage(c);
    PQfinish(c);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return Status::unavailable("postgres: cannot connect: " + why.substr(0, 300));
  }
  // Server notices ("... already exists, skipping") would go raw to stderr and break the
  // JSON-lines log; they are logged at debug level instead. Our SQL raises no notice that
  // carries member data.
  PQsetNoticeReceiver(
      c,
      [](void*, const PGresult* r) {
        const char* msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        log::debug("postgres notice",
                   {"postgres", {}, {}, {}, "notice", std::string(msg ? msg : "").substr(0, 200)});
      },
      nullptr);
  return std::unique_ptr<PgConn>(new PgConn(c));
}

PgConn::~PgConn() { PQfinish(c_); }

bool PgConn::broken() const { return PQstatus(c_) != CONNECTION_OK; }

int PgConn::socket() const { return PQsocket(c_); }

Result<std::vector<std::string>> PgConn::notifications() {
  if (!PQconsumeInput(c_) || broken())
    return Status::unavailable("postgres: the listening connection is gone");
  std::vector<std::string> out;
  while (PGnotify* n = PQnotifies(c_)) {
    out.emplace_back(n->extra ? n->extra : "");
    PQfreemem(n);
  }
  return out;
}

Status PgConn::check(PGresult* r, int okStatus) {
  if (r && PQresultStatus(r) == okStatus) return Status::ok();
  if (r && okStatus == PGRES_COMMAND_OK && PQresultStatus(r) == PGRES_TUPLES_OK)
    return Status::ok();
  return fromResult(c_, r);
}

Result<PgResult> PgConn::exec(const char* name, const char* sql, const std::vector<Param>& params) {
  if (!prepared_.count(name)) {
    PGresult* r = PQprepare(c_, name, sql, 0, nullptr);
    PgResult held(r);
    if (Status s = check(r, PGRES_COMMAND_OK); !s.isOk()) return s;
    prepared_.insert(name);
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  PGresult* r =
      PQexecPrepared(c_, name, static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0);
  PgResult out(r);
  if (r && (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK))
    return out;
  return fromResult(c_, r);
}

Result<PgResult> PgConn::run(const std::string& sql) {
  PGresult* r = PQexec(c_, sql.c_str());
  PgResult out(r);
  if (r && (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK))
    return out;
  return fromResult(c_, r);
}

Result<std::vector<PgResult>> PgConn::pipeline(const std::vector<Stmt>& stmts) {
  auto run = pipelineRun(stmts);
  if (!run.failure.isOk()) return run.failure;
  return std::move(run.results);
}

PgConn::PipelineRun PgConn::pipelineRun(const std::vector<Stmt>& stmts) {
  PipelineRun run{{}, Status::ok()};
  if (PQenterPipelineMode(c_) != 1) {
    run.failure = fromResult(c_, nullptr);
    return run;
  }
  struct Exit {
    PGconn* c;
    ~Exit() { PQexitPipelineMode(c); }
  } exitMode{c_};
  // What was sent, in order: a prepare (result not returned) or a statement.
  std::vector<std::pair<bool, const char*>> sent;
  std::set<std::string> preparing;  // a name used twice in one pipeline is prepared once
  bool ok = true;
  for (const auto& st : stmts) {
    if (st.name && !prepared_.count(st.name) && preparing.insert(st.name).second) {
      ok = ok && PQsendPrepare(c_, st.name, st.sql, 0, nullptr) == 1;
      sent.emplace_back(true, st.name);
    }
    std::vector<const char*> values;
    values.reserve(st.params.size());
    for (const auto& p : st.params) values.push_back(p ? p->c_str() : nullptr);
    int n = static_cast<int>(values.size());
    ok = ok && (st.name ? PQsendQueryPrepared(c_, st.name, n, values.data(), nullptr, nullptr, 0)
                        : PQsendQueryParams(c_, st.sql, n, nullptr, values.data(), nullptr, nullptr,
                                            0)) == 1;
    sent.emplace_back(false, nullptr);
  }
  if (!ok || PQpipelineSync(c_) != 1) {  // the connection is gone
    run.failure = fromResult(c_, nullptr);
    return run;
  }
  for (const auto& [isPrepare, name] : sent) {
    PGresult* r = PQgetResult(c_);
    PgResult held(r);
    while (PGresult* extra = PQgetResult(c_)) PQclear(extra);  // each command ends with a null
    int st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    bool good = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!good && run.failure.isOk()) {
      run.failure = st == PGRES_PIPELINE_ABORTED ? Status::unavailable("postgres: pipeline aborted")
                                                 : fromResult(c_, r);
    }
    if (isPrepare) {
      if (good) prepared_.insert(name);
    } else if (run.failure.isOk()) {
      run.results.push_back(std::move(held));
    }
  }
  // The pipeline's sync result.
  for (int nulls = 0; nulls < 2;) {
    PGresult* r = PQgetResult(c_);
    if (!r) {
      ++nulls;
      continue;
    }
    bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (sync) break;
  }
  return run;
}

PgPool::~PgPool() {
  std::lock_guard lock(mu_);
  idle_.clear();
}

PgPool::Lease::~Lease() {
  if (pool_ && conn_) pool_->release(std::move(conn_));
}

Result<PgPool::Lease> PgPool::acquire() {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + opts_.acquireTimeout;
  for (;;) {
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      if (!c->broken()) return Lease(this, std::move(c));
      --open_;  // a connection the server dropped: open another
      continue;
    }
    if (open_ < opts_.size) {
      ++open_;
      lock.unlock();
      auto c = PgConn::connect(opts_.conninfo, opts_.password);
      lock.lock();
      if (!c.isOk()) {
        --open_;
        cv_.notify_one();
        return c.status();
      }
      return Lease(this, std::move(c).value());
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return Status::unavailable("postgres: every pooled connection stayed busy");
    }
  }
}

void PgPool::release(std::unique_ptr<PgConn> c) {
  std::lock_guard lock(mu_);
  if (c->broken()) {
    --open_;
  } else {
    idle_.push_back(std::move(c));
  }
  cv_.notify_one();
}

PgTransaction::~PgTransaction() {
  if (open_) (void)c_.run("ROLLBACK");
}

Status PgTransaction::begin() {
  auto r = c_.run("BEGIN");
  if (!r.isOk()) return r.status();
  open_ = true;
  return Status::ok();
}

Status PgTransaction::commit() {
  auto r = c_.run("COMMIT");
  open_ = false;
  if (!r.isOk()) return r.status();
  if (r->commandTag() == "ROLLBACK")
    return Status::unavailable("postgres: the transaction was rolled back");
  return Status::ok();
}

std::string textArrayLiteral(const std::vector<std::string>& values) {
  // Sized once, and copied in runs between the characters to escape: a round's bodies are
  // JSON, full of quotes, and the literal is built for every batch.
  size_t size = 2 + values.size() * 3;
  for (const auto& v : values) size += v.size() + v.size() / 4;  // JSON: ~1 quote in 6
  std::string arr;
  arr.reserve(size);
  arr += '{';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) arr += ',';
    arr += '"';
    const char* run = values[i].data();  // the characters not copied yet
    const char* end = run + values[i].size();
    for (const char* c = run; c < end; ++c) {
      if (*c == '"' || *c == '\\') {
        arr.append(run, c);
        arr += '\\';
        run = c;  // the escaped character starts the next run
      }
    }
    arr.append(run, end);
    arr += '"';
  }
  arr += '}';
  return arr;
}

std::string bigintArrayLiteral(const std::vector<int64_t>& values) {
  std::string arr = "{";
  for (size_t i = 0; i < values.size(); ++i) arr += (i ? "," : "") + std::to_string(values[i]);
  return arr + "}";
}

}  // namespace memberflow::postgres
