// The PostgreSQL member store's write, in three shapes (issue 16: "pipelined or multi-row
// statements, or COPY into a staging table; measure and choose"). Each iteration is one
// transaction writing a round of `batch` distinct members (what sync's batch of new changes
// makes), on the migrated schema, through libpq on one connection:
//   shape 0, pipelined: the store's own statements, per write (the member upsert with its
//            history and outbox rows in one statement, the notification, the idempotency
//            record), all in one pipeline with BEGIN and COMMIT (what PgMemberStore does);
//   shape 1, multi-row: the same three statements once per round, each over arrays
//            (unnest), in one pipeline with BEGIN and COMMIT;
//   shape 2, COPY:      the round's rows copied into a temporary staging table, then the same
//            three statements as INSERT ... SELECT from it.
// Every member exists before the clock starts, so every timed write is an update (a version
// guard, a new history row and outbox entry, an idempotency record). Only the writes are
// measured: the reads before them (rows and idempotency records, one statement per round with
// = ANY) are the same in every shape, and building the rows is outside the clock. Needs
// MEMBERFLOW_TEST_POSTGRES, as the tests do; works in a schema of its own, dropped at the end.
#include <benchmark/benchmark.h>
#include <libpq-fe.h>

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "pg_bench_schema.h"

namespace memberflow {
namespace {

constexpr int64_t kMembers = 20000;

// A member body and its event as the store writes them (sizes as in the pipeline: ~0.4 KB and
// ~1.1 KB).
std::string bodyOf(const std::string& id, int64_t n) {
  return R"({"memberId":")" + id + R"(","name":{"first":"Ada","last":"Lovelace)" +
         std::to_string(n) +
         R"("},"birthDate":"1990-01-31","gender":"female","contact":{"email":")" + id +
         R"(@example.org","phone":"+15155550100"},"address":{"line1":"1 Main St","city":"Des Moines","state":"IA","postalCode":"50309","country":"US"},"coverage":{"planId":"PPO-1","groupId":"G1","effectiveDate":"2024-01-01"},"status":"active"})";
}

std::string eventOf(const std::string& id, const std::string& eventId, const std::string& body) {
  return R"({"specversion":"1.0","id":")" + eventId +
         R"(","source":"memberflow","type":"member.updated","subject":")" + id +
         R"(","time":"2026-11-30T00:00:00Z","datacontenttype":"application/json","data":{"member":)" +
         body + R"(,"changedFields":["name.last"],"lineage":{"topic":"t","partition":1}}})";
}

struct Row {
  std::string id, body, version, seq, at, eventId, messageId, event, key;
};

std::string arrayOf(const std::vector<Row>& rows, std::string Row::*field) {
  // A text[] literal: every element quoted, " and \ escaped.
  std::string out = "{";
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : rows[i].*field) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string copyField(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '\t' || c == '\n' || c == '\r') out += '\\';
    out += c;
  }
  return out;
}

bool ok(PGresult* r) {
  ExecStatusType s = PQresultStatus(r);
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_COPY_IN ||
         s == PGRES_PIPELINE_SYNC;
}

// Sends `params` with `sql` (text parameters) into the pipeline, as a statement prepared once
// per connection (as PgConn does): named by its text.
std::map<std::string, std::string> prepared;  // sql -> name, on the benchmark's connection

bool send(PGconn* c, const std::string& sql, const std::vector<std::string>& params) {
  auto [it, fresh] = prepared.try_emplace(sql, "s" + std::to_string(prepared.size()));
  if (fresh && PQsendPrepare(c, it->second.c_str(), sql.c_str(), 0, nullptr) != 1) return false;
  std::vector<const char*> v;
  for (const auto& p : params) v.push_back(p.c_str());
  return PQsendQueryPrepared(c, it->second.c_str(), static_cast<int>(v.size()), v.data(), nullptr,
                             nullptr, 0) == 1;
}

// Reads every result up to the pipeline's sync; false on any error.
bool drain(PGconn* c, std::string& error) {
  bool good = true;
  for (;;) {
    PGresult* r = PQgetResult(c);
    if (!r) {  // the end of one query's results
      if (PQstatus(c) == CONNECTION_OK) continue;
      error = PQerrorMessage(c);
      return false;
    }
    ExecStatusType s = PQresultStatus(r);
    if (!ok(r) && good) {
      good = false;
      error = PQresultErrorMessage(r);
    }
    PQclear(r);
    if (s == PGRES_PIPELINE_SYNC) return good;
  }
}

const char* kWrite =
    "WITH up AS (INSERT INTO members(member_id, body, version, source_sequence, updated_at,"
    " deleted) VALUES($1, $2::jsonb, $3, $4, $5, false) ON CONFLICT (member_id) DO UPDATE SET"
    " body = EXCLUDED.body, version = EXCLUDED.version, source_sequence ="
    " EXCLUDED.source_sequence, updated_at = EXCLUDED.updated_at, deleted = EXCLUDED.deleted"
    " WHERE members.version = EXCLUDED.version - 1 RETURNING member_id),"
    " h AS (INSERT INTO history(member_id, version, op, event_id, message_id, source_sequence,"
    " changed_fields, lineage, applied_at) SELECT member_id, $3::bigint, 'updated', $6::text,"
    " $7::text, $4::bigint, '[\"name.last\"]'::jsonb, '{\"topic\":\"t\"}'::jsonb, $5::bigint"
    " FROM up),"
    " o AS (INSERT INTO outbox(event_id, member_id, event, created_at) SELECT $6::text,"
    " member_id, $8::text, $5::bigint FROM up)"
    " SELECT memberflow_expect_one(count(*)) FROM up";
const char* kReplay =
    "INSERT INTO write_replays(key, fingerprint, result, member, expires_at)"
    " VALUES($1, 'fp', 'updated', $2, $3::bigint + 86400000) ON CONFLICT (key) DO UPDATE SET"
    " fingerprint = EXCLUDED.fingerprint, result = EXCLUDED.result, member = EXCLUDED.member,"
    " expires_at = EXCLUDED.expires_at";

// The same statements over a round's rows, from a relation `src` with the columns of Row.
std::string writeMany(const std::string& src) {
  return "WITH s AS (SELECT * FROM " + src +
         "), up AS (INSERT INTO members(member_id, body, version, source_sequence, updated_at,"
         " deleted) SELECT id, body::jsonb, version::bigint, seq::bigint, at::bigint, false"
         " FROM s ON CONFLICT (member_id) DO UPDATE SET body = EXCLUDED.body, version ="
         " EXCLUDED.version, source_sequence = EXCLUDED.source_sequence, updated_at ="
         " EXCLUDED.updated_at, deleted = EXCLUDED.deleted WHERE members.version ="
         " EXCLUDED.version - 1 RETURNING member_id),"
         " h AS (INSERT INTO history(member_id, version, op, event_id, message_id,"
         " source_sequence, changed_fields, lineage, applied_at) SELECT s.id,"
         " s.version::bigint, 'updated', s.event_id, s.message_id, s.seq::bigint,"
         " '[\"name.last\"]'::jsonb, '{\"topic\":\"t\"}'::jsonb, s.at::bigint FROM s JOIN up ON"
         " up.member_id = s.id),"
         " o AS (INSERT INTO outbox(event_id, member_id, event, created_at) SELECT s.event_id,"
         " s.id, s.event, s.at::bigint FROM s JOIN up ON up.member_id = s.id)"
         " SELECT count(*) FROM up";
}
std::string replayMany(const std::string& src) {
  return "INSERT INTO write_replays(key, fingerprint, result, member, expires_at) SELECT key,"
         " 'fp', 'updated', body, at::bigint + 86400000 FROM " +
         src +
         " ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, result ="
         " EXCLUDED.result, member = EXCLUDED.member, expires_at = EXCLUDED.expires_at";
}
std::string notifyMany(const std::string& src) {
  return "SELECT count(pg_notify('memberflow_member', id)) FROM " + src;
}
const char* kUnnest =
    "unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],"
    " $8::text[], $9::text[]) AS u(id, body, version, seq, at, event_id, message_id, event, key)";

void BM_PgWriteShapes(benchmark::State& state) {
  PgBenchSchema schema("shapes");
  const std::string& uri = schema.uri();
  std::string error = schema.error();
  PGconn* c = nullptr;
  const int shape = static_cast<int>(state.range(0));
  const auto batch = static_cast<size_t>(state.range(1));
  std::vector<int64_t> versions(kMembers, 1);
  int64_t n = 0;
  auto exec = [&](const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    if (!ok(r) && error.empty()) error = PQresultErrorMessage(r);
    PQclear(r);
  };
  if (error.empty()) {
    c = PQconnectdb(uri.c_str());
    prepared.clear();
    if (PQstatus(c) != CONNECTION_OK) error = PQerrorMessage(c);
  }
  // Every member exists at version 1 before the clock starts, so every timed write is an update
  // whatever the shape's speed (a faster one would otherwise do more of its writes as inserts).
  if (error.empty()) {
    exec(
        "INSERT INTO members(member_id, body, version, source_sequence, updated_at, deleted)"
        " SELECT 'M' || g, '" +
        bodyOf("M0", 0) + "'::jsonb, 1, 0, 0, false FROM generate_series(0, " +
        std::to_string(kMembers - 1) + ") g");
  }
  if (error.empty() && shape == 2) {
    exec(
        "CREATE TEMPORARY TABLE staging(id text, body text, version text, seq text, at text,"
        " event_id text, message_id text, event text, key text) ON COMMIT DELETE ROWS");
  }
  auto sent = [&](bool good) {
    if (!good && error.empty()) error = PQerrorMessage(c);
    return good;
  };
  for (auto _ : state) {
    if (!error.empty()) break;
    state.PauseTiming();  // the rows are the client's work in every shape alike
    std::vector<Row> rows(batch);
    for (size_t i = 0; i < batch; ++i) {
      ++n;
      auto k = static_cast<size_t>(n % kMembers);
      Row& row = rows[i];
      row.id = "M" + std::to_string(k);
      row.body = bodyOf(row.id, n);
      row.version = std::to_string(++versions[k]);
      row.seq = row.at = std::to_string(n);
      row.eventId = "e-" + std::to_string(n);
      row.messageId = "core:" + std::to_string(n);
      row.event = eventOf(row.id, row.eventId, row.body);
      row.key = row.messageId;
    }
    state.ResumeTiming();
    if (shape == 2) {
      // COPY is not allowed in a pipeline: BEGIN, COPY, then the statements and COMMIT in one.
      exec("BEGIN");
      PGresult* r = PQexec(c, "COPY staging FROM STDIN");
      bool copying = PQresultStatus(r) == PGRES_COPY_IN;
      PQclear(r);
      if (!copying && error.empty()) error = PQerrorMessage(c);
      if (!error.empty()) break;
      std::string data;
      for (const Row& row : rows) {
        for (const std::string* f : {&row.id, &row.body, &row.version, &row.seq, &row.at,
                                     &row.eventId, &row.messageId, &row.event, &row.key}) {
          data += copyField(*f);
          data += '\t';
        }
        data.back() = '\n';
      }
      sent(PQputCopyData(c, data.data(), static_cast<int>(data.size())) == 1 &&
           PQputCopyEnd(c, nullptr) == 1);
      for (PGresult* x; (x = PQgetResult(c));) {
        if (!ok(x) && error.empty()) error = PQresultErrorMessage(x);
        PQclear(x);
      }
      if (!error.empty()) break;
    }
    bool good = PQenterPipelineMode(c) == 1;
    if (shape != 2) good = good && send(c, "BEGIN", {});
    if (shape == 0) {
      for (const Row& r : rows) {
        good = good &&
               send(c, kWrite,
                    {r.id, r.body, r.version, r.seq, r.at, r.eventId, r.messageId, r.event}) &&
               send(c, "SELECT pg_notify('memberflow_member', $1)", {r.id}) &&
               send(c, kReplay, {r.key, r.body, r.at});
      }
    } else if (shape == 1) {
      // Each statement gets the arrays it reads.
      auto arrays = [&](std::initializer_list<std::string Row::*> fields) {
        std::vector<std::string> out;
        for (auto f : fields) out.push_back(arrayOf(rows, f));
        return out;
      };
      good = good &&
             send(c, writeMany(kUnnest),
                  arrays({&Row::id, &Row::body, &Row::version, &Row::seq, &Row::at, &Row::eventId,
                          &Row::messageId, &Row::event, &Row::key})) &&
             send(c, notifyMany("unnest($1::text[]) AS u(id)"), arrays({&Row::id})) &&
             send(c, replayMany("unnest($1::text[], $2::text[], $3::text[]) AS u(key, body, at)"),
                  arrays({&Row::key, &Row::body, &Row::at}));
    } else {
      good = good && send(c, writeMany("staging"), {}) && send(c, notifyMany("staging"), {}) &&
             send(c, replayMany("staging"), {});
    }
    good = good && send(c, "COMMIT", {}) && PQpipelineSync(c) == 1;
    if (!sent(good) || !drain(c, error)) break;
    PQexitPipelineMode(c);
  }
  // Every write took effect: a history and an outbox row each.
  if (error.empty() && c) {
    PGresult* r = PQexec(c, "SELECT (SELECT count(*) FROM history), (SELECT count(*) FROM outbox)");
    if (!ok(r) || std::to_string(n) != PQgetvalue(r, 0, 0) ||
        std::to_string(n) != PQgetvalue(r, 0, 1)) {
      error = "history or outbox rows missing: " + std::to_string(n) + " writes, " +
              (ok(r) ? std::string(PQgetvalue(r, 0, 0)) + " and " + PQgetvalue(r, 0, 1) : "?");
    }
    PQclear(r);
  }
  if (!error.empty()) state.SkipWithError(error.c_str());
  state.SetItemsProcessed(state.iterations() * state.range(1));
  if (c) PQfinish(c);
}
BENCHMARK(BM_PgWriteShapes)
    ->ArgNames({"shape", "batch"})
    ->ArgsProduct({{0, 1, 2}, {500}})
    ->UseRealTime()
    ->MinTime(5);

}  // namespace
}  // namespace memberflow

BENCHMARK_MAIN();
