// The PostgreSQL adapters against a real server (scripts/pg-server, started by scripts/test;
// MEMBERFLOW_TEST_POSTGRES is its URI). Each harness works in a schema of its own. The
// MemberStore contract, then what the PostgreSQL units do beyond it (migrations, the
// connection's pipeline and pool, the store's purge): they share the server harness.
#include "adapters/contracts.h"

#include <atomic>
#include <cstdlib>
#include <random>
#include <thread>

#include "adapters/postgres/migrations.h"
#include "adapters/postgres/pg_audit_log.h"
#include "adapters/postgres/pg_member_store.h"

namespace memberflow::contracts {
namespace {

namespace pg = memberflow::postgres;

std::optional<std::string> server() {
  if (const char* e = std::getenv("MEMBERFLOW_TEST_POSTGRES"); e && *e) return std::string(e);
  return std::nullopt;
}

class PgEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!server() && !std::getenv("MEMBERFLOW_SKIP_POSTGRES")) {
      FAIL() << "no PostgreSQL: run scripts/test, or scripts/pg-server start DIR and export "
                "MEMBERFLOW_TEST_POSTGRES=uri (MEMBERFLOW_SKIP_POSTGRES=1 skips these tests)";
    }
  }
};
const auto* kEnv = ::testing::AddGlobalTestEnvironment(new PgEnvironment);

// The server URI split the way deployments hold it: the URI without a password, and the
// password apart (the Secrets port's job).
std::pair<std::string, std::string> withoutPassword() {
  std::string uri = *server();
  std::string password = uri.substr(uri.find("://") + 3);
  password = password.substr(password.find(':') + 1, password.find('@') - password.find(':') - 1);
  return {"postgresql://memberflow@" + uri.substr(uri.find('@') + 1), password};
}

// A fresh schema, and the server URI with that schema as the search path.
std::string freshSchema() {
  std::string schema = "t" + std::to_string(std::random_device{}() % 1000000000);
  auto c = pg::PgConn::connect(*server(), "");
  EXPECT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_TRUE((*c)->run("CREATE SCHEMA " + schema).isOk());
  std::string uri = *server();
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
         schema;
}

struct PgMembers final : MemberStoreHarness {
  std::string uri = freshSchema();
  std::unique_ptr<pg::PgMemberStore> s;
  PgMembers() {
    auto c = pg::PgConn::connect(uri, "");
    EXPECT_TRUE(c.isOk());
    auto m = pg::migrate(**c);
    EXPECT_TRUE(m.isOk()) << m.status().toString();
    pg::PgMemberStore::Options o;
    o.pool.conninfo = uri;
    s = std::make_unique<pg::PgMemberStore>(o);
  }
  MemberStore& store() override { return *s; }
  bool severalRelays() const override { return true; }
};
INSTANTIATE_TEST_SUITE_P(Postgres, MemberStoreContract,
                         ::testing::Values([]() -> std::unique_ptr<MemberStoreHarness> {
                           if (!server()) return nullptr;
                           return std::unique_ptr<MemberStoreHarness>(new PgMembers);
                         }),
                         [](const auto&) { return std::string("PostgreSQL"); });

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ChangeSourceContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(QueueContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ObjectStoreContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LedgerContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TopicContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SecretsContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(EventBusContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LakeJournalContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(HttpClientContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(DeliveryLogContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParkingStoreContract);

TEST(PgMigrations, RunTwiceAndFromTwoProcessesAtOnceAndRefuseEditedHistory) {
  if (!server()) GTEST_SKIP();
  std::string uri = freshSchema();
  // Two migrators at once: the advisory lock lets one apply, the other finds it done.
  std::vector<Result<pg::MigrateReport>> reports(2, Status::internal("not run"));
  std::vector<std::thread> ts;
  for (int i = 0; i < 2; ++i) {
    ts.emplace_back([&, i] {
      auto c = pg::PgConn::connect(uri, "");
      reports[static_cast<size_t>(i)] =
          c.isOk() ? pg::migrate(**c) : Result<pg::MigrateReport>(c.status());
    });
  }
  for (auto& t : ts) t.join();
  ASSERT_TRUE(reports[0].isOk()) << reports[0].status().toString();
  ASSERT_TRUE(reports[1].isOk()) << reports[1].status().toString();
  EXPECT_EQ(reports[0]->applied.size() + reports[1]->applied.size(), pg::migrations().size());
  auto c = *pg::PgConn::connect(uri, "");
  auto again = pg::migrate(*c);
  ASSERT_TRUE(again.isOk());
  EXPECT_TRUE(again->applied.empty());
  EXPECT_EQ(*pg::schemaVersion(*c), pg::migrations().back().version);
  ASSERT_TRUE(c->run("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1").isOk());
  EXPECT_CODE(pg::migrate(*c).status(), kInternal);
}

TEST(PgConn, APipelineReturnsEveryResultOrItsFirstFailureAndSkipsTheRest) {
  if (!server()) GTEST_SKIP();
  std::string uri = freshSchema();
  auto c = *pg::PgConn::connect(uri, "");
  ASSERT_TRUE(pg::migrate(*c).isOk());
  ASSERT_TRUE(c->run("CREATE TABLE t (v integer)").isOk());
  auto ok = c->pipeline({{nullptr, "BEGIN", {}},
                         {"t_ins", "INSERT INTO t VALUES($1::integer)", {"1"}},
                         {"t_count", "SELECT count(*) FROM t", {}},
                         {nullptr, "COMMIT", {}}});
  ASSERT_TRUE(ok.isOk()) << ok.status().toString();
  ASSERT_EQ(ok->size(), 4u);
  EXPECT_EQ((*ok)[2].i64(0, 0), 1);
  // A failing statement: its error comes back and nothing after it runs (the insert of 3).
  auto bad = c->pipeline({{nullptr, "BEGIN", {}},
                          {"t_ins", "INSERT INTO t VALUES($1::integer)", {"2"}},
                          {"t_bad", "SELECT 1 / $1::integer", {"0"}},
                          {"t_ins", "INSERT INTO t VALUES($1::integer)", {"3"}},
                          {nullptr, "COMMIT", {}}});
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("22012"), std::string::npos) << bad.status().toString();
  ASSERT_TRUE(c->run("ROLLBACK").isOk());
  auto n = c->exec("t_count", "SELECT count(*) FROM t");
  ASSERT_TRUE(n.isOk()) << n.status().toString();  // prepared in the pipeline, usable after it
  EXPECT_EQ(n->i64(0, 0), 1);
  // The write's version guard fails its transaction as a retryable serialization failure.
  auto guard = c->exec("t_guard", "SELECT memberflow_expect_one($1::bigint)", {"0"});
  EXPECT_TRUE(pg::isRetryable(guard.status())) << guard.status().toString();
  EXPECT_TRUE(c->exec("t_guard", "SELECT memberflow_expect_one($1::bigint)", {"1"}).isOk());
}

TEST(PgConn, TextArrayLiteralsQuoteEveryElementAndEscapeQuotesAndBackslashes) {
  EXPECT_EQ(pg::textArrayLiteral({}), "{}");
  EXPECT_EQ(pg::textArrayLiteral({""}), "{\"\"}");
  EXPECT_EQ(pg::textArrayLiteral({"a\"b", "\\", "x,y", "NULL"}), R"({"a\"b","\\","x,y","NULL"})");
  EXPECT_EQ(pg::textArrayLiteral({R"({"k":"v\"w"})"}), R"({"{\"k\":\"v\\\"w\"}"})");
}

TEST(PgConn, TextArrayLiteralsRoundTripQuotesBackslashesAndEmptyValues) {
  if (!server()) GTEST_SKIP();
  auto c = *pg::PgConn::connect(freshSchema(), "");
  std::vector<std::string> values = {"",     "plain", "{\"a\":\"b\\\"c\"}", "\\", "\\\"", "a,b}{c",
                                     "NULL", "ü \t\n"};
  auto r = c->exec("t_unnest",
                   "SELECT t, t IS NULL FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i)"
                   " ORDER BY i",
                   {pg::textArrayLiteral(values)});
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  ASSERT_EQ(r->rows(), static_cast<int>(values.size()));
  for (int i = 0; i < r->rows(); ++i) {
    EXPECT_EQ(r->str(i, 0), values[i]) << i;
    EXPECT_FALSE(r->boolean(i, 1)) << i;  // "NULL" quoted is the text, not a null
  }
}

TEST(PgPool, AWrongPasswordIsUnavailableAndNamesNoSecret) {
  if (!server()) GTEST_SKIP();
  // The URI's password is replaced by the one given apart (as the Secrets port would).
  auto [noPassword, password] = withoutPassword();
  pg::PgPool pool({noPassword, "not-the-password", 2, std::chrono::milliseconds(2000)});
  auto l = pool.acquire();
  ASSERT_FALSE(l.isOk());
  EXPECT_CODE(l.status(), kUnavailable);
  EXPECT_EQ(l.status().message().find("not-the-password"), std::string::npos);
  pg::PgPool good({noPassword, password, 2, std::chrono::milliseconds(2000)});
  auto ok = good.acquire();
  ASSERT_TRUE(ok.isOk()) << ok.status().toString();
}

// RDS-style: TLS verified against the server's certificate, the password given apart.
TEST(PgPool, TlsVerifiedAgainstTheServerCertificate) {
  if (!server()) GTEST_SKIP();
  const char* ca = std::getenv("MEMBERFLOW_TEST_POSTGRES_CA");
  ASSERT_TRUE(ca && *ca)
      << "MEMBERFLOW_TEST_POSTGRES_CA (scripts/test sets it) names the server's certificate";
  auto [base, password] = withoutPassword();
  pg::PgPool tls({base + "?sslmode=verify-full&sslrootcert=" + ca, password, 1,
                  std::chrono::milliseconds(3000)});
  auto l = tls.acquire();
  ASSERT_TRUE(l.isOk()) << l.status().toString();
  auto r = (*l)->run("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
  ASSERT_TRUE(r.isOk());
  EXPECT_TRUE(r->boolean(0, 0));
  // A certificate that is not the server's is refused.
  pg::PgPool wrong({base + "?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt",
                    password, 1, std::chrono::milliseconds(3000)});
  EXPECT_CODE(wrong.acquire().status(), kUnavailable);
}

// The console's audit log in the `audit` table (migration 6): appended, read newest first,
// an entry without who or what refused.
TEST(PgAuditLog, AppendsAndListsNewestFirst) {
  if (!server()) GTEST_SKIP();
  PgMembers h;  // a fresh schema, migrated
  pg::PoolOptions o;
  o.conninfo = h.uri;
  pg::PgAuditLog audit(o);
  ASSERT_TRUE(
      audit.append({1000, "ops", "dlq.redrive", "ingest", 12, "reason=invalid_email", 0}).isOk());
  ASSERT_TRUE(audit.append({2000, "ops", "dlq.reveal", "route", 1, "entry=7", 0}).isOk());
  EXPECT_EQ(audit.append({3000, "", "dlq.reveal", "route", 1, "", 0}).code(),
            Code::kInvalidArgument);
  auto got = audit.recent(10);
  ASSERT_TRUE(got.isOk()) << got.status().toString();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].action, "dlq.reveal");
  EXPECT_EQ((*got)[1].count, 12);
  EXPECT_EQ((*got)[1].detail, "reason=invalid_email");
  EXPECT_EQ((*got)[1].atMs, 1000);
  EXPECT_EQ(audit.recent(1)->size(), 1u);
}

// Expired idempotency keys are removed as writes go on (lookups already ignore them).
TEST(PgMemberStore, ExpiredIdempotencyKeysArePurged) {
  if (!server()) GTEST_SKIP();
  PgMembers h;
  pg::PgMemberStore::Options o;
  o.pool.conninfo = h.uri;
  o.idempotencyTtlMs = 1;
  pg::PgMemberStore store(o);
  Member m = sampleMember("X1");
  for (int i = 1; i <= 1000; ++i) {
    StoreWrite w;
    w.memberId = "X1";
    w.content = [m](const StoredMember*) -> Result<Member> { return m; };
    w.idempotencyKey = "key-" + std::to_string(i);
    w.requestFingerprint = "fp";
    w.nowMs = 1767225600000 + i * 10;
    ASSERT_TRUE(store.apply(w).isOk());
  }
  auto c = *pg::PgConn::connect(h.uri, "");
  auto left = c->run("SELECT count(*) FROM write_replays");
  ASSERT_TRUE(left.isOk());
  EXPECT_LT(left->i64(0, 0), 10);  // the 1,000th write removed the expired ones
}

// The purge runs as a prepared statement: after five runs PostgreSQL may plan it once for any
// time, and that generic plan must still find the expired keys through the expiry index, not
// by reading every key (what it did before the purge ordered by expiry).
TEST(PgMemberStore, ThePurgeOfExpiredKeysReadsTheExpiryIndexInAGenericPlan) {
  if (!server()) GTEST_SKIP();
  PgMembers h;
  auto c = *pg::PgConn::connect(h.uri, "");
  ASSERT_TRUE(c->run("INSERT INTO write_replays(key, fingerprint, result, member, expires_at)"
                     " SELECT 'k' || i, 'fp', 'updated', '', 1767225600000 + i"
                     " FROM generate_series(1, 20000) AS i")
                  .isOk());
  ASSERT_TRUE(c->run("ANALYZE write_replays").isOk());
  ASSERT_TRUE(c->run("SET plan_cache_mode = force_generic_plan").isOk());
  ASSERT_TRUE(
      c->run(std::string("PREPARE purge(bigint) AS ") + pg::PgMemberStore::kReplayPurge).isOk());
  auto plan = c->run("EXPLAIN EXECUTE purge(1767225600000)");
  ASSERT_TRUE(plan.isOk()) << plan.status().toString();
  std::string text;
  for (int i = 0; i < plan->rows(); ++i) text += plan->str(i, 0) + "\n";
  EXPECT_NE(text.find("Index Scan using write_replays_expiry"), std::string::npos) << text;
  EXPECT_EQ(text.find("Seq Scan"), std::string::npos) << text;
}

// A put of `last` as the member's name under a key, for the batch tests below.
StoreWrite batchPut(const std::string& id, const std::string& last, int64_t seq,
                    const std::string& key) {
  StoreWrite w;
  w.memberId = id;
  Member m = sampleMember(id, last);
  w.content = [m](const StoredMember*) -> Result<Member> { return m; };
  w.requestFingerprint = "fp-" + id + "-" + last;
  w.sourceSequence = seq;
  w.idempotencyKey = key;
  w.lineage = json::object{{"via", "test"}};
  w.nowMs = 1767225600000 + seq;
  return w;
}

std::vector<const StoreWrite*> pointersTo(const std::vector<StoreWrite>& ws) {
  std::vector<const StoreWrite*> out;
  for (const auto& w : ws) out.push_back(&w);
  return out;
}

// How many transactions wrote the rows of these members: the distinct xmin of their member,
// history, outbox and idempotency rows.
int64_t writingTransactions(pg::PgConn& c, const std::string& members) {
  auto r = c.run(
      "SELECT count(DISTINCT x) FROM (SELECT xmin::text AS x FROM members WHERE member_id IN (" +
      members + ") UNION ALL SELECT xmin::text FROM history WHERE member_id IN (" + members +
      ") UNION ALL SELECT xmin::text FROM outbox WHERE member_id IN (" + members +
      ") UNION ALL SELECT xmin::text FROM write_replays WHERE key LIKE 'tx-%') AS t");
  EXPECT_TRUE(r.isOk()) << r.status().toString();
  return r.isOk() ? r->i64(0, 0) : -1;
}

// Every row a batch writes (members, history, outbox, idempotency records), over several
// rounds (a member written twice, a key seen twice), carries one transaction id; the same
// writes through apply() one by one carry one each.
TEST(PgMemberStore, ABatchIsOneTransaction) {
  if (!server()) GTEST_SKIP();
  PgMembers h;
  std::vector<StoreWrite> batch{batchPut("T1", "One", 1, "tx-1"), batchPut("T2", "Two", 1, "tx-2"),
                                batchPut("T1", "Again", 2, "tx-3"),
                                batchPut("T1", "Again", 2, "tx-3"),  // replayed
                                batchPut("T3", "Three", 1, "tx-4")};
  auto out = h.s->applyAll(pointersTo(batch));
  ASSERT_EQ(out.size(), batch.size());
  std::vector<WriteResult> got;
  for (const auto& o : out) {
    ASSERT_TRUE(o.isOk()) << o.status().toString();
    got.push_back(o->result);
  }
  EXPECT_EQ(got, (std::vector<WriteResult>{WriteResult::kCreated, WriteResult::kCreated,
                                           WriteResult::kUpdated, WriteResult::kReplayed,
                                           WriteResult::kCreated}));
  auto c = *pg::PgConn::connect(h.uri, "");
  EXPECT_EQ(writingTransactions(*c, "'T1', 'T2', 'T3'"), 1);
  // The same kind of batch through the default (one transaction per write): one each.
  std::vector<StoreWrite> single{batchPut("T4", "Four", 1, "tx-5"),
                                 batchPut("T5", "Five", 1, "tx-6")};
  for (const auto& o : h.s->MemberStore::applyAll(pointersTo(single))) ASSERT_TRUE(o.isOk());
  EXPECT_EQ(writingTransactions(*c, "'T4', 'T5'"), 3);  // T4's, T5's and the batch's replays
}

// A batch reads its members and idempotency records with statements planned for that batch,
// not prepared once: a prepared statement's generic plan, made while the tables were a few
// pages, scanned the whole of write_replays for every batch once they had grown.
TEST(PgMemberStore, ABatchReadsItsRowsWithStatementsPlannedForIt) {
  if (!server()) GTEST_SKIP();
  PgMembers h;
  for (int i = 1; i <= 8; ++i) {  // past the five runs after which a generic plan may be used
    std::vector<StoreWrite> batch{
        batchPut("G" + std::to_string(i), "One", 1, "g-" + std::to_string(i))};
    for (const auto& o : h.s->applyAll(pointersTo(batch))) ASSERT_TRUE(o.isOk());
  }
  auto lease = h.s->pool().acquire();  // the one connection opened so far: the batches' own
  ASSERT_TRUE(lease.isOk());
  auto prepared = (*lease)->run("SELECT statement FROM pg_prepared_statements");
  ASSERT_TRUE(prepared.isOk()) << prepared.status().toString();
  ASSERT_GT(prepared->rows(), 0);  // the writes' own statements are prepared
  for (int i = 0; i < prepared->rows(); ++i) {
    EXPECT_EQ(prepared->str(i, 0).find("= ANY($1::text[])"), std::string::npos)
        << prepared->str(i, 0);
  }
}

// A round's member writes, notices and idempotency records go out as one multi-row statement
// each: the per-write statements are never prepared unless a batch falls back to them (which
// would otherwise go unnoticed: the fallback gives the same results, only slower).
TEST(PgMemberStore, ABatchWritesARoundInMultiRowStatements) {
  if (!server()) GTEST_SKIP();
  PgMembers h;
  std::vector<StoreWrite> batch{batchPut("W1", "One", 1, "w-1"), batchPut("W2", "Two", 1, "w-2"),
                                batchPut("W1", "Again", 2, "w-3")};
  for (const auto& o : h.s->applyAll(pointersTo(batch))) ASSERT_TRUE(o.isOk());
  auto lease = h.s->pool().acquire();
  ASSERT_TRUE(lease.isOk());
  auto names =
      (*lease)->run("SELECT string_agg(name, ',' ORDER BY name) FROM pg_prepared_statements");
  ASSERT_TRUE(names.isOk()) << names.status().toString();
  std::string got = names->str(0, 0);
  for (const char* multi : {"mf_write_rows", "mf_notify_rows", "mf_replay_rows"})
    EXPECT_NE(got.find(multi), std::string::npos) << got;
  for (const char* single : {"mf_write,", "mf_notify,", "mf_replay_put"})
    EXPECT_EQ((got + ",").find(single), std::string::npos) << got;
  EXPECT_EQ(h.s->get("W1")->version, 2);
  EXPECT_EQ(*h.s->outboxCount(), 3);
}

// A transaction that fails at COMMIT (here a deferred constraint) fails every write of the
// batch and leaves nothing of it: no member, no event, no idempotency record.
TEST(PgMemberStore, ABatchWhoseCommitFailsAppliesNothing) {
  if (!server()) GTEST_SKIP();
  PgMembers h;
  auto c = *pg::PgConn::connect(h.uri, "");
  ASSERT_TRUE(c->run("CREATE FUNCTION refuse_z() RETURNS trigger LANGUAGE plpgsql AS $$"
                     " BEGIN IF NEW.member_id = 'Z2' THEN RAISE EXCEPTION 'refused'"
                     " USING ERRCODE = 'check_violation'; END IF; RETURN NULL; END $$;"
                     "CREATE CONSTRAINT TRIGGER refuse_z AFTER INSERT OR UPDATE ON members"
                     " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_z()")
                  .isOk());
  std::vector<StoreWrite> batch{batchPut("Z1", "One", 1, "z-1"), batchPut("Z2", "Two", 1, "z-2"),
                                batchPut("Z3", "Three", 1, "z-3")};
  auto out = h.s->applyAll(pointersTo(batch));
  ASSERT_EQ(out.size(), 3u);
  for (const auto& o : out) {
    ASSERT_FALSE(o.isOk());
    EXPECT_CODE(o.status(), kInternal);
    EXPECT_NE(o.status().message().find("23514"), std::string::npos) << o.status().toString();
  }
  for (const char* id : {"Z1", "Z2", "Z3"}) EXPECT_CODE(h.s->get(id).status(), kNotFound);
  EXPECT_EQ(*h.s->outboxCount(), 0);
  EXPECT_EQ(c->run("SELECT count(*) FROM write_replays")->i64(0, 0), 0);
}

// A write whose statement breaks a constraint (a CHECK the test adds) fails alone, in the
// first round or a later one; the others commit together, a later write of the same member
// sees the earlier ones, and a later write under the failed write's key is not a replay.
// (The round's writes first go out as one multi-row statement, which fails as a whole; the
// batch then runs again with a statement per write, which tells the failed write.)
TEST(PgMemberStore, AConstraintBrokenByOneWriteFailsOnlyThatWrite) {
  if (!server()) GTEST_SKIP();
  PgMembers h;
  auto c = *pg::PgConn::connect(h.uri, "");
  ASSERT_TRUE(c->run("ALTER TABLE members ADD CONSTRAINT no_c2 CHECK (member_id <> 'C2'"
                     " AND NOT (member_id = 'C3' AND version = 2))")
                  .isOk());
  std::vector<StoreWrite> batch{
      batchPut("C1", "One", 1, "c-1"),   batchPut("C3", "Three", 1, "c-3"),
      batchPut("C1", "Two", 2, "c-1b"),     // second round: sees C1's first write
      batchPut("C2", "Two", 1, "c-2"),      // breaks the CHECK
      batchPut("C4", "Four", 1, "c-2"),     // the failed write's key: not a replay
      batchPut("C3", "Later", 2, "c-3b")};  // second round, breaks the CHECK (version 2)
  auto out = h.s->applyAll(pointersTo(batch));
  ASSERT_EQ(out.size(), batch.size());
  for (size_t i : {0, 1, 2, 4}) ASSERT_TRUE(out[i].isOk()) << i << out[i].status().toString();
  EXPECT_EQ(out[0]->result, WriteResult::kCreated);
  EXPECT_EQ(out[1]->result, WriteResult::kCreated);
  EXPECT_EQ(out[2]->result, WriteResult::kUpdated);
  EXPECT_EQ(out[2]->member->version, 2);
  EXPECT_EQ(out[4]->result, WriteResult::kCreated);
  for (size_t i : {3, 5}) {
    ASSERT_FALSE(out[i].isOk()) << i;
    EXPECT_CODE(out[i].status(), kInternal);
    EXPECT_NE(out[i].status().message().find("23514"), std::string::npos)
        << out[i].status().toString();
  }
  EXPECT_EQ(h.s->get("C1")->member.name.last, "Two");
  EXPECT_CODE(h.s->get("C2").status(), kNotFound);
  EXPECT_EQ(h.s->get("C3")->version, 1);
  EXPECT_EQ(h.s->get("C3")->member.name.last, "Three");
  EXPECT_EQ(h.s->get("C4")->member.name.last, "Four");
  EXPECT_EQ(*h.s->outboxCount(), 4);  // C1 twice, C3, C4
  auto tx = c->run(
      "SELECT count(DISTINCT xmin::text) FROM members WHERE member_id IN ('C1', 'C3', 'C4')");
  EXPECT_EQ(tx->i64(0, 0), 1);  // the survivors still commit together
}

// Batches over the same members in opposite orders and single writes, at once: every write
// succeeds and none is lost. The batches take their locks in one order, so they never
// deadlock: a lock wait longer than 0.9 s (lock_timeout, below the server's 1 s
// deadlock_timeout) fails the batch instead of leaving the deadlock to the server's detector
// and a quiet retry. The waits of this test are otherwise a few milliseconds.
TEST(PgMemberStore, ConcurrentBatchesInOppositeOrdersNeitherDeadlockNorLoseAWrite) {
  if (!server()) GTEST_SKIP();
  PgMembers members;
  pg::PgMemberStore::Options o;
  o.pool.conninfo = members.uri + "%20-clock_timeout%3D900";  // within the options parameter
  pg::PgMemberStore store(o);
  constexpr int kMembers = 10, kBatches = 15;
  std::atomic<int> failures{0};
  auto writer = [&](int thread) {
    for (int b = 0; b < kBatches; ++b) {
      std::vector<StoreWrite> batch;
      for (int k = 0; k < kMembers; ++k) {
        int m = thread == 0 ? k : kMembers - 1 - k;
        StoreWrite w = batchPut(
            "K" + std::to_string(m), "V" + std::to_string(thread) + "-" + std::to_string(b), 0,
            "k-" + std::to_string(thread) + "-" + std::to_string(b) + "-" + std::to_string(m));
        w.sourceSequence.reset();
        batch.push_back(std::move(w));
      }
      for (const auto& o : store.applyAll(pointersTo(batch))) {
        if (!o.isOk() || o->result == WriteResult::kNoOp) ++failures;
      }
    }
  };
  auto single = [&] {
    for (int b = 0; b < kBatches; ++b) {
      StoreWrite w = batchPut("K0", "S-" + std::to_string(b), 0, "s-" + std::to_string(b));
      w.sourceSequence.reset();
      auto o = store.apply(w);
      if (!o.isOk() || o->result == WriteResult::kNoOp) ++failures;
    }
  };
  std::vector<std::thread> ts;
  ts.emplace_back(writer, 0);
  ts.emplace_back(writer, 1);
  ts.emplace_back(single);
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (int m = 0; m < kMembers; ++m) {
    auto g = store.get("K" + std::to_string(m));
    ASSERT_TRUE(g.isOk());
    EXPECT_EQ(g->version, 2 * kBatches + (m == 0 ? kBatches : 0)) << m;
  }
  EXPECT_EQ(*store.outboxCount(), kMembers * 2 * kBatches + kBatches);
}

}  // namespace
}  // namespace memberflow::contracts
