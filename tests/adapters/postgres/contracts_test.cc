// The PostgreSQL adapters against a real server (scripts/pg-server, started by scripts/test;
// MEMBERFLOW_TEST_POSTGRES is its URI). Each harness works in a schema of its own. The
// MemberStore contract, then what the PostgreSQL units do beyond it (migrations, the
// connection's pipeline and pool, the store's purge): they share the server harness.
#include "adapters/contracts.h"

#include <cstdlib>
#include <random>
#include <thread>

#include "adapters/postgres/migrations.h"
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
  auto left = c->run("SELECT count(*) FROM idempotency");
  ASSERT_TRUE(left.isOk());
  EXPECT_LT(left->i64(0, 0), 10);  // the 1,000th write removed the expired ones
}

}  // namespace
}  // namespace memberflow::contracts
