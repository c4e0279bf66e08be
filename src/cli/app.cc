#include "cli/app.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <map>
#include <set>
#include <unordered_set>
#include <sstream>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "adapters/aws/credentials.h"
#include "adapters/aws/dynamodb_ledger.h"
#include "adapters/aws/eventbridge_bus.h"
#include "adapters/aws/s3_object_store.h"
#include "adapters/aws/secrets_manager.h"
#include "adapters/aws/sns_topic.h"
#include "adapters/aws/sqs_queue.h"
#include "adapters/embedded/dir_object_store.h"
#include "adapters/embedded/embedded_event_bus.h"
#include "adapters/embedded/sqlite_lake_journal.h"
#include "adapters/embedded/env_secrets.h"
#include "adapters/embedded/source_log.h"
#include "adapters/embedded/sqlite_ledger.h"
#include "adapters/embedded/sqlite_member_store.h"
#include "adapters/embedded/sqlite_queue.h"
#include "adapters/postgres/migrations.h"
#include "adapters/postgres/pg_member_store.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/kafka/kafka_source.h"
#include "api/auth.h"
#include "api/jwt.h"
#include "api/oauth.h"
#include "common/crypto.h"
#include "common/text.h"
#include "api/handlers.h"
#include "api/http_server.h"
#include "common/gzip.h"
#include "common/json.h"
#include "common/time.h"
#include "common/log.h"
#include "common/metrics.h"
#include "stages/ingest.h"
#include "stages/lake.h"
#include "stages/relay.h"
#include "stages/route.h"
#include "stages/sync.h"
#include "stages/target_delivery.h"
#include "cli/supervisor.h"

namespace memberflow::cli {
namespace {

// The PostgreSQL schema at the version this build needs: migrated here when asked to,
// otherwise refused with the command that migrates it.
// A schema newer than this build is accepted: migrations keep the previous release working (see
// migrations.cc), so the old tasks of a rolling deployment still start after the new ones
// migrated.
Status checkSchema(postgres::PgPool& pool, bool migrate) {
  auto lease = pool.acquire();
  if (!lease.isOk()) return lease.status();
  auto v = postgres::schemaVersion(**lease);
  if (!v.isOk()) return v.status();
  int known = postgres::migrations().back().version;
  if (*v > known) {
    log::warn("postgres schema is newer than this build, running on it",
              {"store", {}, {}, {}, "schema_newer", std::to_string(*v) + ">" + std::to_string(known)});
    return Status::ok();
  }
  if (migrate) {
    auto r = postgres::migrate(**lease);
    if (!r.isOk()) return r.status();
    for (int v : r->applied) log::info("postgres migration applied", {"store", {}, {}, {}, "migrated", std::to_string(v)});
    return Status::ok();
  }
  if (*v != known) {
    return Status::failedPrecondition("postgres: schema version " + std::to_string(*v) + ", this build needs " +
                                      std::to_string(postgres::migrations().back().version) +
                                      ": run `memberflow db migrate` (or set postgres.migrate_on_start = 1)");
  }
  return Status::ok();
}

// The AWS client settings of the config (checkConfig has validated the endpoints).
aws::AwsConfig awsConfigOf(const Config& cfg) {
  aws::AwsConfig a{cfg.awsRegion, cfg.awsEndpoint, 10000, {200, 5000, 4}, {}};
  if (auto e = parseServiceEndpoints(cfg.awsServiceEndpoints); e.isOk()) a.serviceEndpoints = *e;
  return a;
}

namespace emb = memberflow::embedded;

std::atomic<bool> gStop{false};
// While a run opens its adapters nothing is in flight, and an open can block in a dependency
// that does not answer (an S3 bucket check, say): a signal then ends the process at once.
std::atomic<bool> gOpening{false};
extern "C" void onSignal(int sig) {
  if (gOpening) ::_exit(128 + sig);  // async-signal-safe; nothing to finish or commit yet
  gStop = true;
}

void installSignals() {
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  std::signal(SIGPIPE, SIG_IGN);
}

int fail(const Status& s) {
  std::cerr << "memberflow: " << s.toString() << "\n";
  return s.code() == Code::kInvalidArgument ? 2 : 1;
}

// Queue names of the embedded wiring.
constexpr const char* kChanges = "changes";
constexpr const char* kChangesDlq = "changes-dlq";
constexpr const char* kIngestDlq = "ingest-dlq";
constexpr const char* kRoute = "route";
constexpr const char* kLake = "lake";

// Everything embedded, opened on demand.
struct Runtime {
  Config cfg;
  SystemClock clock;
  emb::SqliteDb::Options db;
  std::unique_ptr<emb::SourceLog> log;  // embedded source: consumer and producer at once
  std::unique_ptr<kafka::KafkaChangeSource> kafkaSource;
  std::unique_ptr<kafka::KafkaChangeSink> kafkaSink;
  ChangeSource* source = nullptr;
  ChangeSink* sink = nullptr;
  // AWS: one HTTP client, credentials chain and client for every AWS adapter.
  http::CurlHttpClient awsHttp;
  std::unique_ptr<aws::CredentialsChain> awsCreds;
  std::unique_ptr<aws::AwsClient> awsClient;
  std::unique_ptr<ObjectStore> objects;
  std::unique_ptr<Ledger> ledger;
  std::shared_ptr<emb::SqliteQueueStore> queues;
  std::unique_ptr<Queue> changes, changesDlq, ingestDlq;
  // Declared before the store: the store's change-feed thread calls into it until it stops.
  std::unique_ptr<api::MemberCache> readCache;
  std::unique_ptr<MemberStore> members;
  std::shared_ptr<api::LocalSigningKey> key;
  // Fan-out: the member-events topic and its subscriptions.
  std::unique_ptr<Queue> routeQueue, lakeQueue, routeDlq, lakeDlq;
  std::unique_ptr<Topic> topic;
  // The event bus: rules, buses, target queues.
  std::optional<RoutingConfig> routing;
  std::map<std::string, std::unique_ptr<EventBus>> buses;
  std::map<std::string, std::unique_ptr<Queue>> namedQueues;
  std::unique_ptr<emb::SqliteLakeJournal> lakeJournal;
  std::unique_ptr<Secrets> secrets;

  aws::AwsClient& awsc() {
    if (!awsClient) {
      std::string sts = cfg.awsEndpoint.empty() ? "https://sts." + cfg.awsRegion + ".amazonaws.com" : cfg.awsEndpoint;
      awsCreds = aws::CredentialsChain::standard(awsHttp, sts, clock);
      awsClient = std::make_unique<aws::AwsClient>(awsHttp, *awsCreds, clock, awsConfigOf(cfg));
    }
    return *awsClient;
  }
  bool sqs() const { return cfg.queueAdapter == "sqs"; }
  // Targets the embedded bus delivers (none when EventBridge delivers). REQUIRES: openRouting.
  const std::vector<TargetConfig>& embeddedTargets() const {
    static const std::vector<TargetConfig> kNone;
    return cfg.eventBusAdapter == "eventbridge" ? kNone : routing->targets;
  }
  // A queue of the configured family; FIFO on SQS (".fifo" names under aws.name_prefix).
  Result<std::unique_ptr<Queue>> makeQueue(const std::string& base, const std::string& dlq, int maxReceives,
                                           bool fifo = true) {
    if (!sqs()) {
      emb::QueueOptions o;
      if (!dlq.empty()) o.redrive = emb::RedrivePolicy{dlq, maxReceives};
      return queues->queue(base, o);
    }
    aws::SqsQueueOptions o;
    o.displayName = base;
    if (!dlq.empty()) {
      aws::SqsQueueOptions dopt;
      dopt.displayName = dlq;
      dopt.contentBasedDedup = true;
      auto d = aws::SqsQueue::open(awsc(), cfg.awsNamePrefix + dlq + ".fifo", true, dopt);
      if (!d.isOk()) return d.status();
      auto arn = (*d)->arn();
      if (!arn.isOk()) return arn.status();
      o.deadLetterQueueArn = *arn;
      o.maxReceiveCount = maxReceives;
    }
    o.contentBasedDedup = fifo;  // EventBridge may deliver to it; explicit dedup ids still win
    o.fifo = fifo;
    auto q = aws::SqsQueue::open(awsc(), cfg.awsNamePrefix + base + (fifo ? ".fifo" : ""), true, o);
    if (!q.isOk()) return q.status();
    return std::unique_ptr<Queue>(std::move(q).value());
  }
  Secrets& secretsPort() {
    if (!secrets) {
      if (cfg.secretsAdapter == "secretsmanager") secrets = std::make_unique<aws::SecretsManager>(awsc(), clock);
      else secrets = std::make_unique<emb::EnvSecrets>(cfg.path("secrets"));
    }
    return *secrets;
  }
  Status openObjects() {
    if (objects) return Status::ok();
    if (cfg.objectStoreAdapter != "s3") {
      auto dir = std::make_unique<emb::DirObjectStore>(cfg.path("objects"));
      MF_RETURN_IF_ERROR(dir->ensureWritable());
      objects = std::move(dir);
      return Status::ok();
    }
    auto s3 = std::make_unique<aws::S3ObjectStore>(
        awsc(), cfg.awsBucket,
        cfg.awsS3Addressing == "path"      ? aws::S3ObjectStore::Addressing::kPath
        : cfg.awsS3Addressing == "virtual" ? aws::S3ObjectStore::Addressing::kVirtualHosted
                                           : aws::S3ObjectStore::Addressing::kAuto);
    MF_RETURN_IF_ERROR(s3->ensureBucket());
    objects = std::move(s3);
    return Status::ok();
  }

  explicit Runtime(Config c) : cfg(std::move(c)) { db.synchronousFull = cfg.synchronous == "full"; }

  Status openLog() {
    if (log) return Status::ok();
    auto s = emb::SourceLog::open(cfg.path("source.db"), cfg.topic, cfg.partitions,
                                  cfg.consumerGroup, db);
    if (!s.isOk()) return s.status();
    log = std::move(s).value();
    return Status::ok();
  }
  Result<kafka::KafkaOptions> kafkaOptions() {
    kafka::KafkaOptions o;
    o.bootstrapServers = cfg.kafkaBootstrapServers;
    o.topic = cfg.topic;
    o.group = cfg.consumerGroup;
    if (!cfg.kafkaSecurityProtocol.empty()) o.properties["security.protocol"] = cfg.kafkaSecurityProtocol;
    if (!cfg.kafkaSaslMechanism.empty()) o.properties["sasl.mechanism"] = cfg.kafkaSaslMechanism;
    if (!cfg.kafkaSaslUsername.empty()) o.properties["sasl.username"] = cfg.kafkaSaslUsername;
    if (!cfg.kafkaSslCaLocation.empty()) o.properties["ssl.ca.location"] = cfg.kafkaSslCaLocation;
    if (!cfg.kafkaSaslPasswordSecret.empty()) {
      auto pw = secretsPort().get(cfg.kafkaSaslPasswordSecret);
      if (!pw.isOk()) return Status::invalidArgument("kafka.sasl_password_secret: " + pw.status().message());
      o.properties["sasl.password"] = *pw;
    }
    std::stringstream ss(cfg.kafkaProperties);
    for (std::string kv; std::getline(ss, kv, ',');) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) return Status::invalidArgument("kafka.properties takes k=v pairs");
      o.properties[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return o;
  }
  // The consumer (joins the consumer group unless `observe`, which only reads offsets).
  Status openSource(bool observe = false) {
    if (source) return Status::ok();
    if (cfg.sourceAdapter != "kafka") {
      MF_RETURN_IF_ERROR(openLog());
      source = log.get();
      return Status::ok();
    }
    auto o = kafkaOptions();
    if (!o.isOk()) return o.status();
    o->subscribe = !observe;
    auto k = kafka::KafkaChangeSource::open(*o);
    if (!k.isOk()) return k.status();
    kafkaSource = std::move(k).value();
    source = kafkaSource.get();
    return Status::ok();
  }
  Status openSink() {
    if (sink) return Status::ok();
    if (cfg.sourceAdapter != "kafka") {
      MF_RETURN_IF_ERROR(openLog());
      sink = log.get();
      return Status::ok();
    }
    auto o = kafkaOptions();
    if (!o.isOk()) return o.status();
    auto k = kafka::KafkaChangeSink::open(*o);
    if (!k.isOk()) return k.status();
    kafkaSink = std::move(k).value();
    sink = kafkaSink.get();
    return Status::ok();
  }
  Status openQueues() {
    if (changes) return Status::ok();
    if (!sqs()) {
      auto q = emb::SqliteQueueStore::open(cfg.path("queues.db"), clock, db);
      if (!q.isOk()) return q.status();
      queues = *q;
    }
    // A safety net behind sync's own attempt limit: a message that keeps crashing its
    // consumer is moved to the DLQ by the queue itself.
    // The ingest DLQ is no redrive target and needs no order: a standard queue on SQS, where a
    // FIFO queue could not be listed past a member's first rejection.
    struct Spec {
      std::unique_ptr<Queue>* slot;
      const char* name;
      const char* dlq;
      int max;
      bool fifo;
    } specs[] = {{&changesDlq, kChangesDlq, "", 0, true},
                 {&changes, kChanges, kChangesDlq, static_cast<int>(cfg.syncMaxAttempts) + 4, true},
                 {&ingestDlq, kIngestDlq, "", 0, false},
                 {&routeDlq, "route-dlq", "", 0, true},
                 {&routeQueue, kRoute, "route-dlq", 10, true},
                 {&lakeDlq, "lake-dlq", "", 0, true},
                 {&lakeQueue, kLake, "lake-dlq", 10, true}};
    for (auto& sp : specs) {
      auto q = makeQueue(sp.name, sp.dlq, sp.max, sp.fifo);
      if (!q.isOk()) return q.status();
      *sp.slot = std::move(q).value();
    }
    std::vector<std::string> subscriptions{kRoute, kLake};
    for (const auto& q : splitList(cfg.topicExtraSubscriptions)) subscriptions.push_back(q);
    if (cfg.topicAdapter == "sns") {
      auto t = aws::SnsTopic::create(awsc(), cfg.awsNamePrefix + "member-events.fifo");
      if (!t.isOk()) return t.status();
      for (const auto& sub : subscriptions) {
        Queue* q = queueNamed(sub);
        auto arn = static_cast<aws::SqsQueue*>(q)->arn();
        if (!arn.isOk()) return arn.status();
        MF_RETURN_IF_ERROR((*t)->subscribeQueue(*arn));
      }
      topic = std::move(t).value();
    } else {
      topic = std::make_unique<emb::SqliteTopic>(queues, "member-events", subscriptions);
    }
    return Status::ok();
  }
  // Any queue by name (queue targets, target queues), created on first use.
  Queue* queueNamed(const std::string& name) {
    if (name == kChanges && changes) return changes.get();
    if (name == kRoute && routeQueue) return routeQueue.get();
    if (name == kLake && lakeQueue) return lakeQueue.get();
    auto it = namedQueues.find(name);
    if (it == namedQueues.end()) {
      auto q = makeQueue(name, "", 0);
      if (!q.isOk()) return nullptr;
      it = namedQueues.emplace(name, std::move(q).value()).first;
    }
    return it->second.get();
  }
  Status openRouting() {
    if (routing) return Status::ok();
    MF_RETURN_IF_ERROR(openQueues());
    RoutingConfig rc;
    if (!cfg.rulesFile.empty()) {
      std::ifstream in(cfg.rulesFile);
      if (!in) return Status::invalidArgument("cannot read bus.rules_file " + cfg.rulesFile);
      std::stringstream ss;
      ss << in.rdbuf();
      auto parsed = parseRoutingConfig(ss.str());
      if (!parsed.isOk()) return parsed.status();
      rc = std::move(parsed).value();
    }
    routing = std::move(rc);
    std::set<std::string> names{"default"};
    for (const auto& r : routing->rules) names.insert(r.bus);
    for (const auto& t : routing->targets) {
      if (t.kind == TargetConfig::Kind::kBus) names.insert(t.bus);
    }
    for (const auto& n : names) {
      if (cfg.eventBusAdapter == "eventbridge") {
        // Rules and targets live in EventBridge (`memberflow aws provision`), which delivers.
        buses[n] = std::make_unique<aws::EventBridgeBus>(awsc(), n);
        continue;
      }
      auto bus = emb::EmbeddedEventBus::create(n, *routing, queues);
      if (!bus.isOk()) return bus.status();
      buses[n] = std::move(bus).value();
    }
    (void)secretsPort();
    return Status::ok();
  }
  Status openLake() {
    if (lakeJournal) return Status::ok();
    MF_RETURN_IF_ERROR(openObjects());
    auto j = emb::SqliteLakeJournal::open(cfg.path("lake.db"), db);
    if (!j.isOk()) return j.status();
    lakeJournal = std::move(j).value();
    return Status::ok();
  }
  // observe: for replay and redrive, which use ingest's processing but never poll, so they
  // must not join the consumer group (that would rebalance a running pipeline).
  Status openIngestSide(bool observe = false) {
    MF_RETURN_IF_ERROR(openSource(observe));
    MF_RETURN_IF_ERROR(openQueues());
    MF_RETURN_IF_ERROR(openObjects());
    if (!ledger) {
      int64_t ttl = cfg.ledgerTtlHours * 3600 * 1000;
      if (cfg.ledgerAdapter == "dynamodb") {
        auto d = std::make_unique<aws::DynamoDbLedger>(awsc(), cfg.awsLedgerTable, ttl);
        MF_RETURN_IF_ERROR(d->ensureTable());
        ledger = std::move(d);
      } else {
        auto l = emb::SqliteLedger::open(cfg.path("ledger.db"), ttl, db);
        if (!l.isOk()) return l.status();
        ledger = std::move(l).value();
      }
    }
    return Status::ok();
  }
  Status openMembers() {
    if (members) return Status::ok();
    if (cfg.memberStoreAdapter == "postgres") {
      postgres::PgMemberStore::Options o;
      o.pool.conninfo = cfg.pgConninfo;
      o.pool.size = static_cast<size_t>(cfg.pgPoolSize);
      if (!cfg.pgPasswordSecret.empty()) {
        auto pw = secretsPort().get(cfg.pgPasswordSecret);
        if (!pw.isOk()) return pw.status();
        o.pool.password = *pw;
      }
      auto store = std::make_unique<postgres::PgMemberStore>(o);
      MF_RETURN_IF_ERROR(checkSchema(store->pool(), cfg.pgMigrateOnStart != 0));
      members = std::move(store);
      return Status::ok();
    }
    emb::SqliteMemberStore::Options o;
    o.db = db;
    auto m = emb::SqliteMemberStore::open(cfg.path("members.db"), o);
    if (!m.isOk()) return m.status();
    members = std::move(m).value();
    return Status::ok();
  }
  // The sync stage's client secret. With the embedded Secrets port a missing one is created
  // (random, mode 0600, in <data_dir>/secrets) so the API and sync share it; Secrets Manager
  // must hold it.
  Result<std::string> clientSecret() {
    auto s = secretsPort().get(cfg.authClientSecret);
    if (s.isOk() || s.status().code() != Code::kNotFound || cfg.secretsAdapter != "embedded") return s;
    std::error_code ec;
    std::filesystem::create_directories(cfg.path("secrets"), ec);
    std::string path = cfg.path("secrets/" + cfg.authClientSecret);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      std::string secret = crypto::base64UrlEncode(crypto::randomBytes(32));
      bool ok = ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size()) && ::fsync(fd) == 0;
      ::close(fd);
      if (!ok) return Status::unavailable("cannot write the sync client secret");
    }
    // Created here or by another process an instant ago (then read until it is complete).
    for (int i = 0; i < 50; ++i) {
      auto again = secretsPort().get(cfg.authClientSecret);
      if (again.isOk() && again->size() == 43) return again;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return secretsPort().get(cfg.authClientSecret);
  }
  Status openKey() {
    if (key) return Status::ok();
    auto k = api::LocalSigningKey::loadOrCreate(cfg.path("keys/signing-key.pem"), clock);
    if (!k.isOk()) return k.status();
    key = *k;
    return Status::ok();
  }
  Queue* dlqNamed(const std::string& n) {
    if (n == "ingest" || n == kIngestDlq) return ingestDlq.get();
    if (n == "changes" || n == "sync" || n == kChangesDlq) return changesDlq.get();
    if (n == "route" || n == "route-dlq") return routeDlq.get();
    if (n == "lake" || n == "lake-dlq") return lakeDlq.get();
    if (n.rfind("target-", 0) == 0) {
      std::string base = n.size() > 4 && n.compare(n.size() - 4, 4, "-dlq") == 0 ? n.substr(0, n.size() - 4) : n;
      return queueNamed(base + "-dlq");
    }
    return nullptr;
  }
  IngestOptions ingestOptions() const {
    IngestOptions o;
    o.maxBatch = static_cast<size_t>(cfg.ingestMaxBatch);
    o.pollWait = std::chrono::milliseconds(cfg.ingestPollWaitMs);
    o.decode.maxValueBytes = static_cast<size_t>(cfg.maxRecordBytes);
    if (!cfg.kmsKeyId.empty()) o.kmsKeyId = cfg.kmsKeyId;
    return o;
  }
  SyncOptions syncOptions() const {
    SyncOptions o;
    o.apiBaseUrl = cfg.apiUrl();
    o.workers = static_cast<int>(cfg.syncWorkers);
    o.maxBatch = static_cast<size_t>(cfg.syncMaxBatch);
    o.visibilityMs = cfg.syncVisibilityMs;
    o.requestTimeoutMs = static_cast<long>(cfg.syncTimeoutMs);
    o.backoff = {cfg.syncBackoffBaseMs, cfg.syncBackoffCapMs, static_cast<int>(cfg.syncMaxAttempts)};
    return o;
  }
};

void applyLogLevel(const Config& cfg) {
  if (cfg.logLevel == "debug") log::setLevel(log::Level::kDebug);
  else if (cfg.logLevel == "warn") log::setLevel(log::Level::kWarn);
  else if (cfg.logLevel == "error") log::setLevel(log::Level::kError);
  else log::setLevel(log::Level::kInfo);
}

// Lag of the consumer group over all partitions, or -1 when unknown.
int64_t sourceLag(ChangeSource& source) {
  auto p = source.progress();
  return p.isOk() ? p->lag() : -1;
}

void publishGauges(Runtime& rt) {
  auto& m = Metrics::instance();
  std::vector<Queue*> all{rt.changes.get(), rt.changesDlq.get(), rt.ingestDlq.get(), rt.routeQueue.get(),
                          rt.routeDlq.get(), rt.lakeQueue.get(), rt.lakeDlq.get()};
  for (auto& [n, q] : rt.namedQueues) all.push_back(q.get());
  for (Queue* q : all) {
    if (!q) continue;
    auto s = q->stats();
    if (!s.isOk()) continue;
    m.queueDepth(q->name()).Set(static_cast<double>(s->visible + s->inFlight));
    m.queueOldestAge(q->name()).Set(
        s->oldestSentAtMs ? static_cast<double>(rt.clock.nowMs() - s->oldestSentAtMs) / 1000.0 : 0);
  }
}

struct ApiRunner {
  http::CurlHttpClient jwksHttp;
  std::unique_ptr<api::JwtVerifier> external;
  std::unique_ptr<api::VerifiedTokenCache> tokens;
  std::unique_ptr<api::TokenEndpoint> tokenEndpoint;
  std::unique_ptr<api::MemberApi> handler;
  std::unique_ptr<api::HttpServer> server;

  // The verifier of bearer tokens: an external issuer's key set (auth.jwks_url / jwks_file), or
  // the embedded issuer, which also serves /oauth2/token and /.well-known/jwks.json.
  Status openAuth(Runtime& rt, api::ApiOptions& ao, const api::Authenticator** auth) {
    const Config& cfg = rt.cfg;
    if (cfg.externalIssuer()) {
      api::JwtPolicy policy;
      auto algorithms = splitList(cfg.authAlgorithms);
      policy.algorithms = {algorithms.begin(), algorithms.end()};
      policy.issuer = cfg.authIssuer;
      policy.audience = cfg.authAudience;
      policy.audienceClaim = cfg.authAudienceClaim;
      policy.scopePrefix = cfg.authScopePrefix;
      policy.skewSeconds = cfg.authSkewSeconds;
      MF_RETURN_IF_ERROR(api::checkPolicy(policy));
      std::shared_ptr<api::KeySource> keys;
      if (!cfg.authJwksFile.empty()) {
        auto f = api::StaticKeySource::fromFile(cfg.authJwksFile);
        if (!f.isOk()) return f.status();
        keys = *f;
      } else {
        keys = std::make_shared<api::UrlKeySource>(jwksHttp, cfg.authJwksUrl, rt.clock);
        // Fetched once now, so the first requests do not wait for it (a failure is logged and
        // retried on use: the API starts and answers 503 until the issuer is reachable).
        (void)keys->keys(false);
      }
      external = std::make_unique<api::JwtVerifier>(keys, policy, rt.clock);
      *auth = external.get();
      return Status::ok();
    }
    MF_RETURN_IF_ERROR(rt.openKey());
    auto secret = rt.clientSecret();
    if (!secret.isOk()) return Status(secret.status().code(), "auth.client_secret: " + secret.status().message());
    tokenEndpoint = std::make_unique<api::TokenEndpoint>(
        rt.key, std::map<std::string, api::OAuthClient>{{cfg.authClientId, {*secret, {"member:read", "member:write"}}}});
    api::TokenEndpoint* te = tokenEndpoint.get();
    ao.extraRoutes["/oauth2/token"] = [te](const api::ApiRequest& r) { return te->handle(r); };
    std::string jwks = rt.key->jwks();
    ao.extraRoutes["/.well-known/jwks.json"] = [jwks](const api::ApiRequest&) {
      return api::ApiResponse{200, {{"Content-Type", "application/json"}, {"Cache-Control", "public, max-age=300"}}, jwks};
    };
    *auth = rt.key.get();
    return Status::ok();
  }

  Status start(Runtime& rt) {
    MF_RETURN_IF_ERROR(rt.openMembers());
    const Config& cfg = rt.cfg;
    api::ApiOptions ao;
    ao.maxBodyBytes = static_cast<size_t>(cfg.apiMaxBodyBytes);
    auto open = splitList(cfg.apiOpenEndpoints);
    ao.openEndpoints = {open.begin(), open.end()};
    ao.ratePerClient = static_cast<double>(cfg.apiRatePerClient);
    ao.rateBurst = static_cast<double>(cfg.apiRateBurst);
    auto proxies = splitList(cfg.apiTrustedProxies);
    ao.trustedProxies = {proxies.begin(), proxies.end()};
    auto exempt = splitList(cfg.apiRateExemptClients);
    ao.rateExempt = {exempt.begin(), exempt.end()};
    ao.failedAuthPerAddress = static_cast<double>(cfg.apiFailedAuthPerAddress);
    if (rt.cfg.apiCacheEntries > 0) {
      rt.readCache = std::make_unique<api::MemberCache>(static_cast<size_t>(rt.cfg.apiCacheEntries));
      api::MemberCache* c = rt.readCache.get();
      MF_RETURN_IF_ERROR(rt.members->watchChanges([c](const std::string& id) { c->invalidate(id); },
                                                   [c](bool live) { c->setFeed(live); }));
    }
    const api::Authenticator* auth = nullptr;
    MF_RETURN_IF_ERROR(openAuth(rt, ao, &auth));
    tokens = std::make_unique<api::VerifiedTokenCache>(*auth, rt.clock);
    handler = std::make_unique<api::MemberApi>(*rt.members, *tokens, rt.clock, ao, rt.readCache.get());
    api::ServerOptions so;
    so.address = cfg.apiListen;
    so.port = static_cast<uint16_t>(cfg.apiPort);
    so.threads = static_cast<int>(cfg.apiThreads);
    so.maxBodyBytes = ao.maxBodyBytes;
    so.maxHeaderBytes = static_cast<size_t>(cfg.apiMaxHeaderBytes);
    so.idleTimeoutSeconds = static_cast<int>(cfg.apiIdleTimeoutSeconds);
    so.tlsCertFile = cfg.apiTlsCert;
    so.tlsKeyFile = cfg.apiTlsKey;
    auto* h = handler.get();
    server = std::make_unique<api::HttpServer>([h](const api::ApiRequest& r) { return h->handle(r); }, so);
    return server->start();
  }
};

// Runs the chosen stages until a signal, or until idle. Returns the exit code.
// Everything the stages need is opened before any of them starts, so a start failure (an
// unreachable database, an unwritable object store, a missing setting) exits with the error
// and leaves nothing running. The supervisor then owns the threads: a stage that fails stops
// them all, and shutdown is bounded by run.shutdown_timeout_ms.
int runStages(Runtime& rt, const RunOptions& opts, bool quietIdle = false) {
  bool wantIngest = opts.stages.count("ingest") > 0;
  bool wantSync = opts.stages.count("sync") > 0;
  bool wantApi = opts.stages.count("api") > 0;
  bool wantRelay = opts.stages.count("relay") > 0;
  bool wantRoute = opts.stages.count("route") > 0;
  bool wantLake = opts.stages.count("lake") > 0;
  const Config& cfg = rt.cfg;

  // ---- 1. open what the chosen stages use; nothing runs yet -------------------------------
  struct Opening {
    Opening() { gOpening = !gStop; }
    ~Opening() { gOpening = false; }
  } opening;
  if (gStop) return 0;
  if (wantSync && cfg.authTokenUrl.empty() && cfg.externalIssuer()) {
    return fail(Status::invalidArgument("auth.token_url is required for sync with an external issuer"));
  }
  if (wantIngest) {
    if (Status s = rt.openIngestSide(); !s.isOk()) return fail(s);
  }
  if (Status s = rt.openQueues(); !s.isOk()) return fail(s);
  if (wantApi || wantRelay) {
    if (Status s = rt.openMembers(); !s.isOk()) return fail(s);
  }
  if (wantRoute) {
    if (Status s = rt.openRouting(); !s.isOk()) return fail(s);
  }
  if (wantLake) {
    if (Status s = rt.openLake(); !s.isOk()) return fail(s);
  }
  ApiRunner apiRunner;
  if (wantApi) {
    if (Status s = apiRunner.start(rt); !s.isOk()) return fail(s);  // listens from here on
  }

  gOpening = false;

  // ---- 2. the stages, declared before the supervisor so that they outlive its threads -----
  std::unique_ptr<IngestStage> ingest;
  std::unique_ptr<SyncStage> sync;
  http::CurlHttpClient httpClient;
  std::unique_ptr<api::ClientCredentialsTokens> tokens;
  std::unique_ptr<RelayStage> relay;
  std::unique_ptr<RouteStage> route;
  std::vector<std::unique_ptr<TargetDelivery>> deliveries;
  std::unique_ptr<LakeStage> lake;
  if (wantIngest) {
    ingest = std::make_unique<IngestStage>(*rt.source, *rt.objects, *rt.ledger, *rt.changes,
                                           *rt.ingestDlq, rt.clock, rt.ingestOptions());
  }
  if (wantSync) {
    // Client credentials against auth.token_url, or this deployment's own API (embedded issuer).
    std::string tokenUrl = cfg.authTokenUrl.empty() ? rt.syncOptions().apiBaseUrl + "/oauth2/token" : cfg.authTokenUrl;
    tokens = std::make_unique<api::ClientCredentialsTokens>(
        httpClient, tokenUrl, cfg.authClientId, [&rt] { return rt.clientSecret(); }, cfg.authScopes, rt.clock);
    sync = std::make_unique<SyncStage>(*rt.changes, *rt.changesDlq, httpClient, *tokens, rt.clock,
                                       rt.syncOptions());
  }
  if (wantRelay) relay = std::make_unique<RelayStage>(*rt.members, *rt.topic, rt.clock, RelayOptions{});
  if (wantRoute) {
    RouteOptions ro;
    ro.visibilityMs = cfg.busVisibilityMs;
    route = std::make_unique<RouteStage>(*rt.routeQueue, *rt.routeDlq, *rt.buses.at("default"), rt.clock, ro);
    for (const auto& t : rt.embeddedTargets()) {
      Queue* in = rt.queueNamed(emb::targetQueueName(t.name));
      Queue* dlq = rt.queueNamed(emb::targetDlqName(t.name));
      if (!in || !dlq) return fail(Status::unavailable("cannot open the queues of target " + t.name));
      TargetDeliveryOptions tdo;
      tdo.backoff = BackoffPolicy{cfg.syncBackoffBaseMs, cfg.syncBackoffCapMs, t.maxAttempts};
      tdo.visibilityMs = cfg.busVisibilityMs;
      deliveries.push_back(std::make_unique<TargetDelivery>(
          t, *in, *dlq, httpClient, rt.secretsPort(),
          [&rt](const std::string& n) -> EventBus* {
            auto it = rt.buses.find(n);
            return it == rt.buses.end() ? nullptr : it->second.get();
          },
          [&rt](const std::string& n) { return rt.queueNamed(n); }, rt.clock, tdo));
    }
  }
  if (wantLake) {
    LakeOptions lo;
    lo.writer = cfg.lakeWriter;
    lo.flushAfter = std::chrono::milliseconds(cfg.lakeFlushMs);
    lo.maxEvents = static_cast<size_t>(cfg.lakeMaxEvents);
    lo.visibilityMs = cfg.lakeVisibilityMs;
    if (!cfg.kmsKeyId.empty()) lo.kmsKeyId = cfg.kmsKeyId;
    lake = std::make_unique<LakeStage>(*rt.lakeQueue, *rt.lakeDlq, *rt.objects, *rt.lakeJournal, rt.clock, lo);
  }

  // ---- 3. run them under the supervisor ----------------------------------------------------
  StageSupervisor::Options so;
  so.shutdownDeadline = std::chrono::milliseconds(cfg.shutdownTimeoutMs);
  StageSupervisor supervisor(so);
  if (apiRunner.server) {
    api::HttpServer* server = apiRunner.server.get();
    supervisor.start("api", [server](std::stop_token t) {
      std::mutex m;
      std::condition_variable_any cv;
      std::unique_lock lock(m);
      cv.wait(lock, t, [] { return false; });  // until stop is requested
      server->stop();
    });
  }
  if (ingest) supervisor.start("ingest", [&](std::stop_token t) { ingest->run(t); });
  if (sync) supervisor.start("sync", [&](std::stop_token t) { sync->run(t); });
  if (relay) supervisor.start("relay", [&](std::stop_token t) { relay->run(t); });
  if (route) supervisor.start("route", [&](std::stop_token t) { route->run(t); });
  for (auto& d : deliveries) {
    supervisor.start("target " + d->name(), [dp = d.get()](std::stop_token t) { dp->run(t); });
  }
  if (lake) supervisor.start("lake", [&](std::stop_token t) { lake->run(t); });

  // Idle for the stages that run: ingest has consumed the source, sync has drained the changes
  // queue, relay the outbox, route and lake their queues.
  auto empty = [](Queue* q) {
    auto st = q->stats();
    return st.isOk() && st->visible + st->inFlight == 0;
  };
  std::function<bool()> idle;
  if (opts.untilIdle) {
    idle = [&] {
      if (wantIngest && sourceLag(*rt.source) != 0) return false;
      if (wantSync && !empty(rt.changes.get())) return false;
      if (wantRelay) {
        auto ob = rt.members->outbox(1);
        if (!ob.isOk() || !ob->empty()) return false;
      }
      if (wantRoute) {
        if (!empty(rt.routeQueue.get())) return false;
        for (const auto& t : rt.embeddedTargets()) {
          if (!empty(rt.queueNamed(emb::targetQueueName(t.name)))) return false;
        }
      }
      return !wantLake || empty(rt.lakeQueue.get());
    };
  }
  auto ended = supervisor.supervise(gStop, idle, [&rt] { publishGauges(rt); });
  if (ended == StageSupervisor::Ended::kStageFailed) {
    log::error("a stage failed, stopping the others", {supervisor.failedStage(), {}, {}, {}, "failed", supervisor.failure()});
  } else if (!quietIdle || ended == StageSupervisor::Ended::kSignal) {
    log::info("shutting down", {"run"});
  }
  // In-flight batches finish and commit; a stage blocked in a dependency past the deadline is
  // abandoned: what it had not committed is redone after a restart, as after kill -9.
  auto stuck = supervisor.stopAndJoin();
  if (!stuck.empty()) {
    std::string names;
    for (const auto& n : stuck) names += (names.empty() ? "" : ",") + n;
    log::error("shutdown deadline passed, exiting without waiting for these stages",
               {"run", {}, {}, {}, "abandoned", names});
    std::cerr.flush();
    std::_Exit(1);
  }
  if (ended == StageSupervisor::Ended::kStageFailed) {
    return fail(Status::internal("stage " + supervisor.failedStage() + " failed: " + supervisor.failure()));
  }
  return 0;
}

std::optional<std::string> jsonToBytes(const json::value& v) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return std::string(v.get_string());
  return json::serialize(v);
}

// Parses one `produce` line (DESIGN.md §7).
Result<ProduceRecord> parseProduceLine(const std::string& line) {
  auto v = parseJson(line);
  if (!v.isOk() || !v->is_object()) return Status::invalidArgument("not a JSON object");
  const json::object& o = v->get_object();
  for (const auto& kv : o) {
    if (kv.key() != "key" && kv.key() != "value" && kv.key() != "headers" &&
        kv.key() != "partition" && kv.key() != "timestamp") {
      return Status::invalidArgument("unknown field " + std::string(kv.key()));
    }
  }
  ProduceRecord r;
  if (const json::value* k = field(o, "key")) r.key = jsonToBytes(*k);
  const json::value* val = field(o, "value");
  if (val == nullptr) return Status::invalidArgument("missing value (use null for a tombstone)");
  r.value = jsonToBytes(*val);
  if (const json::value* h = field(o, "headers"); h && !h->is_null()) {
    if (!h->is_object()) return Status::invalidArgument("headers must be an object");
    for (const auto& kv : h->get_object()) {
      if (!kv.value().is_string()) return Status::invalidArgument("header values must be strings");
      r.headers.emplace_back(kv.key(), kv.value().get_string());
    }
  }
  if (const json::value* p = field(o, "partition"); p && !p->is_null()) {
    auto n = intField(o, "partition");
    if (!n || *n < 0 || *n > INT32_MAX) return Status::invalidArgument("partition must be an integer");
    r.partition = static_cast<int32_t>(*n);
  }
  if (auto ts = intField(o, "timestamp")) r.timestampMs = *ts;
  return r;
}

class Progress {
 public:
  explicit Progress(const char* what) : what_(what), tty_(isatty(STDERR_FILENO) != 0) {}
  void update(int64_t n, bool final = false) {
    if (!tty_) return;
    auto now = std::chrono::steady_clock::now();
    if (!final && now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r%s %lld records (%.0f/s)%s", what_, static_cast<long long>(n),
                 secs > 0 ? static_cast<double>(n) / secs : 0.0, final ? "\n" : "");
    std::fflush(stderr);
  }

 private:
  const char* what_;
  bool tty_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_{};
};

// Appends JSONL records (DESIGN.md §7) to the source in batches of up to 1,000, with progress
// on a terminal. flush() sends what is batched: readers call it when their input pauses, so a
// paced stream is appended as it arrives.
class LineProducer {
 public:
  explicit LineProducer(Runtime& rt) : rt_(rt) {}
  Status open() { return rt_.openSink(); }
  Status add(std::string_view line) {
    ++lineNo_;
    if (line.empty()) return Status::ok();
    auto r = parseProduceLine(std::string(line));
    if (!r.isOk()) {
      MF_RETURN_IF_ERROR(flush());
      return Status::invalidArgument("line " + std::to_string(lineNo_) + ": " + r.status().message());
    }
    batch_.push_back(std::move(r).value());
    return batch_.size() >= 1000 ? flush() : Status::ok();
  }
  Status flush() {
    if (batch_.empty()) return Status::ok();
    MF_RETURN_IF_ERROR(rt_.sink->append(batch_));
    produced_ += static_cast<int64_t>(batch_.size());
    batch_.clear();
    progress_.update(produced_);
    return Status::ok();
  }
  Status finish() {
    MF_RETURN_IF_ERROR(flush());
    progress_.update(produced_, true);
    return Status::ok();
  }
  int64_t produced() const { return produced_; }

 private:
  Runtime& rt_;
  Progress progress_{"produced"};
  std::vector<ProduceRecord> batch_;
  int64_t lineNo_ = 0, produced_ = 0;
};

// Reads JSONL from a file descriptor; flushes when the input pauses (nothing more to read now).
Status produceFd(LineProducer& producer, int fd) {
  MF_RETURN_IF_ERROR(producer.open());
  std::vector<char> buf(1 << 16);
  std::string pending;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::unavailable("read failed");
    if (n == 0) break;
    pending.append(buf.data(), static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      MF_RETURN_IF_ERROR(producer.add(std::string_view(pending).substr(start, nl - start)));
    }
    pending.erase(0, start);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) == 0) MF_RETURN_IF_ERROR(producer.flush());  // input paused
  }
  if (!pending.empty()) MF_RETURN_IF_ERROR(producer.add(pending));
  return producer.finish();
}

}  // namespace

int runCommand(const Config& cfg, const RunOptions& opts) {
  applyLogLevel(cfg);
  installSignals();
  Runtime rt(cfg);
  return runStages(rt, opts);
}

int apiCommand(const Config& cfg) {
  RunOptions o;
  o.stages = {"api"};
  return runCommand(cfg, o);
}

int generateCommand(const GeneratorOptions& opts, const std::optional<std::string>& out) {
  std::ofstream file;
  if (out) {
    file.open(*out);
    if (!file) return fail(Status::invalidArgument("cannot write " + *out));
  }
  std::ostream& os = out ? file : std::cout;
  generateRecords(opts, [&](std::string line) {
    os << line << '\n';
  });
  os.flush();
  return os ? 0 : 1;
}

int produceCommand(const Config& cfg, const std::optional<std::string>& file) {
  applyLogLevel(cfg);
  Runtime rt(cfg);
  LineProducer producer(rt);
  Status s;
  if (file && *file != "-") {
    int fd = ::open(file->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(Status::invalidArgument("cannot read " + *file));
    s = produceFd(producer, fd);
    ::close(fd);
  } else {
    s = produceFd(producer, STDIN_FILENO);
  }
  std::cerr << "produced " << producer.produced() << " records to " << cfg.topic << "\n";
  return s.isOk() ? 0 : fail(s);
}

int authVerifyCommand(const VerifyOptions& o) {
  api::JwtPolicy policy;
  if (!o.algorithms.empty()) policy.algorithms = o.algorithms;
  policy.issuer = o.issuer;
  policy.audience = o.audience;
  policy.skewSeconds = o.skewSeconds;
  if (Status s = api::checkPolicy(policy); !s.isOk()) {
    std::cout << "invalid: " << s.message() << "\n";
    return 1;
  }
  auto keys = api::StaticKeySource::fromFile(o.jwksFile);
  if (!keys.isOk()) {
    std::cout << "invalid: " << keys.status().message() << "\n";
    return 1;
  }
  std::string token((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  size_t start = 0;
  while (start < token.size() && std::isspace(static_cast<unsigned char>(token[start]))) ++start;
  token.erase(0, start);
  auto set = (*keys)->keys(false);
  auto payload = api::verifyJws(token, **set, policy);
  if (!payload.isOk()) {
    std::cout << "invalid: " << payload.status().message() << "\n";
    return 1;
  }
  if (o.noClaims) {
    std::cout << "valid: signature verified (claims not checked)\n";
    return 0;
  }
  auto claims = api::checkJwtClaims(*payload, policy, SystemClock().nowMs() / 1000);
  if (!claims.isOk()) {
    std::cout << "invalid: " << claims.status().message() << "\n";
    return 1;
  }
  std::string scopes;
  for (const auto& s : claims->scopes) scopes += (scopes.empty() ? "" : " ") + s;
  std::cout << "valid: sub=" << json::serialize(json::value(claims->subject)) << " scopes=\"" << scopes << "\"\n";
  return 0;
}

int tokenCommand(const Config& cfg, const std::vector<std::string>& scopes, int64_t ttlSeconds) {
  Runtime rt(cfg);
  if (Status s = rt.openKey(); !s.isOk()) return fail(s);
  std::cout << rt.key->mint("memberflow-cli", scopes, ttlSeconds) << "\n";
  return 0;
}

int dlqListCommand(const Config& cfg, const std::string& queue, size_t limit, bool withBody) {
  Runtime rt(cfg);
  if (Status s = rt.openQueues(); !s.isOk()) return fail(s);
  Queue* q = rt.dlqNamed(queue);
  if (!q) return fail(Status::invalidArgument("no DLQ named " + queue + " (ingest or changes)"));
  auto msgs = q->peek(limit);
  if (!msgs.isOk()) return fail(msgs.status());
  // A standard SQS queue can hold a dead letter twice (a retried send): list each once.
  std::unordered_set<std::string> listed;
  for (const auto& m : *msgs) {
    if (!m.dedupId.empty() && !listed.insert(m.dedupId).second) continue;
    json::object attrs;
    for (const auto& [k, v] : m.attributes) attrs[k] = v;
    json::object o{{"queue", q->name()},
                   {"id", m.messageId},
                   {"groupId", m.groupId},
                   {"dedupId", m.dedupId},
                   {"sentAt", isoMillis(m.sentAtMs)},
                   {"attributes", std::move(attrs)}};
    if (withBody) o["body"] = m.body;
    std::cout << json::serialize(o) << "\n";
  }
  return 0;
}

int dlqRedriveCommand(const Config& cfg, const std::string& queue) {
  applyLogLevel(cfg);
  Runtime rt(cfg);
  if (Status s = rt.openIngestSide(/*observe=*/true); !s.isOk()) return fail(s);
  Queue* q = rt.dlqNamed(queue);
  if (!q) return fail(Status::invalidArgument("no DLQ named " + queue + " (ingest or changes)"));
  auto st = q->stats();
  if (!st.isOk()) return fail(st.status());
  int64_t total = st->visible, seen = 0, redriven = 0, kept = 0, copies = 0;
  std::unordered_set<std::string> driven;  // dedup ids redriven (or kept) in this run
  IngestStage ingest(*rt.source, *rt.objects, *rt.ledger, *rt.changes, *rt.ingestDlq, rt.clock,
                     rt.ingestOptions());
  Progress progress("redriven");
  std::vector<std::string> keptReceipts;
  while (seen < total) {
    auto batch = q->receive(100, 60000, 0);
    if (!batch.isOk()) return fail(batch.status());
    if (batch->empty()) break;
    std::vector<std::string> done;
    for (const auto& m : *batch) {
      ++seen;
      if (!m.dedupId.empty() && !driven.insert(m.dedupId).second) {
        done.push_back(m.receiptHandle);  // a second copy (standard queues deliver at least once)
        ++copies;
        continue;
      }
      Status s;
      if (q == rt.ingestDlq.get()) {
        s = ingest.redrive(m.body);
      } else {
        // Back to the queue the dead letter came from: "<name>-dlq" -> "<name>".
        const std::string& dn = q->name();
        Queue* back = rt.queueNamed(dn.substr(0, dn.size() - 4));
        OutgoingMessage o{m.groupId, m.dedupId + ":redrive:" + m.messageId, m.body, {}};
        s = back->send({o});
      }
      if (s.isOk()) {
        done.push_back(m.receiptHandle);
        ++redriven;
      } else if (s.code() == Code::kFailedPrecondition) {
        keptReceipts.push_back(m.receiptHandle);
        ++kept;
      } else {
        return fail(s);
      }
    }
    if (Status s = q->remove(done); !s.isOk()) return fail(s);
    progress.update(seen);
  }
  for (const auto& r : keptReceipts) (void)q->changeVisibility(r, 0);
  progress.update(seen, true);
  std::cout << json::serialize(json::object{{"queue", q->name()}, {"redriven", redriven}, {"kept", kept}, {"copiesDropped", copies}})
            << "\n";
  return 0;
}

int replayCommand(const Config& cfg, const ReplayOptions& o) {
  applyLogLevel(cfg);
  Runtime rt(cfg);
  if (Status s = rt.openIngestSide(/*observe=*/true); !s.isOk()) return fail(s);
  IngestStage ingest(*rt.source, *rt.objects, *rt.ledger, *rt.changes, *rt.ingestDlq, rt.clock,
                     rt.ingestOptions());
  auto keys = rt.objects->list("raw/" + cfg.topic + "/");
  if (!keys.isOk()) return fail(keys.status());
  std::string sinceDate = o.sinceMs ? utcDate(*o.sinceMs) : "";
  std::string untilDate = o.untilMs ? utcDate(*o.untilMs) : "";
  Progress progress("replayed");
  int64_t scanned = 0, selected = 0, enqueued = 0, duplicates = 0, rejected = 0, skipped = 0;
  std::vector<SourceRecord> batch;
  std::vector<Lineage> lineage;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::ok();
    auto rep = ingest.process(batch, &lineage);
    if (!rep.isOk()) return rep.status();
    enqueued += static_cast<int64_t>(rep->enqueued);
    duplicates += static_cast<int64_t>(rep->duplicates);
    rejected += static_cast<int64_t>(rep->rejected);
    skipped += static_cast<int64_t>(rep->skipped);
    batch.clear();
    lineage.clear();
    progress.update(selected);
    return Status::ok();
  };
  for (const auto& key : *keys) {
    // raw/<topic>/dt=YYYY-MM-DD/p=<P>/<first>-<last>.ndjson.gz: skip objects out of range.
    auto dt = key.find("/dt="), pp = key.find("/p="), dash = key.rfind('-'), slash = key.rfind('/');
    if (dt == std::string::npos || pp == std::string::npos || dash == std::string::npos) continue;
    std::string date = key.substr(dt + 4, 10);
    if ((!sinceDate.empty() && date < sinceDate) || (!untilDate.empty() && date > untilDate)) continue;
    int32_t part = static_cast<int32_t>(std::atol(key.c_str() + pp + 3));
    int64_t first = std::atoll(key.c_str() + slash + 1), last = std::atoll(key.c_str() + dash + 1);
    if (o.partition && part != *o.partition) continue;
    if ((o.fromOffset && last < *o.fromOffset) || (o.toOffset && first > *o.toOffset)) continue;
    auto data = rt.objects->get(key);
    if (!data.isOk()) return fail(data.status());
    auto text = gzipDecompress(*data);
    if (!text.isOk()) return fail(Status::internal("archive object " + key + " is corrupt"));
    int64_t lineNo = 0;
    for (size_t p = 0, n; (n = text->find('\n', p)) != std::string::npos; p = n + 1) {
      ++lineNo;
      ++scanned;
      auto v = parseJson(std::string_view(*text).substr(p, n - p));
      if (!v.isOk() || !v->is_object()) continue;
      auto r = recordFromArchiveLine(v->get_object(), cfg.topic);
      if (!r) continue;
      if ((o.partition && r->partition != *o.partition) || (o.fromOffset && r->offset < *o.fromOffset) ||
          (o.toOffset && r->offset > *o.toOffset) || (o.sinceMs && r->timestampMs < *o.sinceMs) ||
          (o.untilMs && r->timestampMs > *o.untilMs)) {
        continue;
      }
      ++selected;
      lineage.push_back({cfg.topic, r->partition, r->offset, key, lineNo});
      batch.push_back(std::move(*r));
      if (batch.size() >= 500) {
        if (Status s = flush(); !s.isOk()) return fail(s);
      }
    }
  }
  if (Status s = flush(); !s.isOk()) return fail(s);
  progress.update(selected, true);
  std::cout << json::serialize(json::object{{"scanned", scanned}, {"selected", selected},
                                            {"enqueued", enqueued}, {"duplicates", duplicates},
                                            {"rejected", rejected}, {"skipped", skipped}})
            << "\n";
  return 0;
}

int statusCommand(const Config& cfg) {
  Runtime rt(cfg);
  if (Status s = rt.openSource(/*observe=*/true); !s.isOk()) return fail(s);
  if (Status s = rt.openQueues(); !s.isOk()) return fail(s);
  json::object out;
  auto progress = rt.source->progress();
  if (!progress.isOk()) return fail(progress.status());
  out["source"] = json::object{{"topic", cfg.topic}, {"records", progress->end}, {"lag", progress->lag()}};
  json::object queues;
  if (Status s = rt.openRouting(); !s.isOk()) return fail(s);
  std::vector<Queue*> all{rt.changes.get(), rt.changesDlq.get(), rt.ingestDlq.get(), rt.routeQueue.get(),
                          rt.routeDlq.get(), rt.lakeQueue.get(), rt.lakeDlq.get()};
  for (const auto& t : rt.embeddedTargets()) {
    all.push_back(rt.queueNamed(emb::targetQueueName(t.name)));
    all.push_back(rt.queueNamed(emb::targetDlqName(t.name)));
  }
  for (const auto& q : splitList(cfg.topicExtraSubscriptions)) all.push_back(rt.queueNamed(q));
  for (Queue* q : all) {
    auto s = q->stats();
    if (!s.isOk()) return fail(s.status());
    queues[q->name()] = json::object{{"visible", s->visible}, {"inFlight", s->inFlight}};
  }
  out["queues"] = std::move(queues);
  if (Status s = rt.openMembers(); s.isOk()) {
    auto ob = rt.members->outboxCount();
    if (ob.isOk()) out["outbox"] = *ob;
  }
  std::cout << json::serialize(out) << "\n";
  return 0;
}

int awsProvisionCommand(const Config& cfg) {
  applyLogLevel(cfg);
  if (cfg.rulesFile.empty()) return fail(Status::invalidArgument("bus.rules_file is not set: nothing to provision"));
  std::ifstream in(cfg.rulesFile);
  if (!in) return fail(Status::invalidArgument("cannot read bus.rules_file " + cfg.rulesFile));
  std::stringstream ss;
  ss << in.rdbuf();
  auto routing = parseRoutingConfig(ss.str());
  if (!routing.isOk()) return fail(routing.status());
  SystemClock clock;
  http::CurlHttpClient http;
  std::string sts = cfg.awsEndpoint.empty() ? "https://sts." + cfg.awsRegion + ".amazonaws.com" : cfg.awsEndpoint;
  auto creds = aws::CredentialsChain::standard(http, sts, clock);
  aws::AwsClient client(http, *creds, clock, awsConfigOf(cfg));
  std::map<std::string, std::unique_ptr<aws::SqsQueue>> queues;
  aws::ProvisionOptions po;
  po.queueArn = [&](const std::string& name) -> Result<std::string> {
    auto it = queues.find(name);
    if (it == queues.end()) {
      aws::SqsQueueOptions o;
      o.fifo = name.size() > 5 && name.compare(name.size() - 5, 5, ".fifo") == 0;
      o.contentBasedDedup = o.fifo;  // EventBridge sends no dedup id
      auto q = aws::SqsQueue::open(client, name, true, o);
      if (!q.isOk()) return q.status();
      it = queues.emplace(name, std::move(q).value()).first;
    }
    return it->second->arn();
  };
  Runtime rt(cfg);
  po.secret = [&](const std::string& name) { return rt.secretsPort().get(name); };
  po.namePrefix = cfg.awsNamePrefix;
  po.eventsRoleArn = cfg.awsEventsRoleArn;
  if (Status s = aws::provisionEventBridge(client, *routing, po); !s.isOk()) return fail(s);
  std::cout << json::serialize(json::object{{"rules", static_cast<int64_t>(routing->rules.size())},
                                            {"queues", static_cast<int64_t>(queues.size())}})
            << "\n";
  return 0;
}

int dbMigrateCommand(const Config& cfg) {
  applyLogLevel(cfg);
  if (cfg.memberStoreAdapter != "postgres") {
    return fail(Status::invalidArgument("adapters.member_store is not postgres: nothing to migrate"));
  }
  Runtime rt(cfg);
  postgres::PoolOptions po;
  po.conninfo = cfg.pgConninfo;
  po.size = 1;
  if (!cfg.pgPasswordSecret.empty()) {
    auto pw = rt.secretsPort().get(cfg.pgPasswordSecret);
    if (!pw.isOk()) return fail(pw.status());
    po.password = *pw;
  }
  postgres::PgPool pool(po);
  auto lease = pool.acquire();
  if (!lease.isOk()) return fail(lease.status());
  auto r = postgres::migrate(**lease);
  if (!r.isOk()) return fail(r.status());
  json::array applied;
  for (int v : r->applied) applied.emplace_back(v);
  std::cout << json::serialize(json::object{{"applied", std::move(applied)}, {"version", r->current}}) << "\n";
  return 0;
}

int configCheckCommand(const Config& cfg) {
  auto problems = checkConfig(cfg);
  for (const auto& p : problems) std::cerr << "config: " << p << "\n";
  if (!problems.empty()) return 2;
  std::cout << "config ok: data in " << cfg.dataDir << ", API on " << cfg.apiListen << ":"
            << cfg.apiPort << ", " << cfg.partitions << " partitions\n";
  return 0;
}

int demoCommand(Config cfg, const GeneratorOptions& gen, bool serve) {
  applyLogLevel(cfg);
  installSignals();
  cfg.dataDir += "/demo";
  std::error_code ec;
  std::filesystem::remove_all(cfg.dataDir, ec);
  Runtime rt(cfg);
  std::cerr << "== memberflow demo: " << gen.count << " generated changes of " << gen.members
            << " members (seed " << gen.seed << "), data in " << cfg.dataDir << "\n";
  LineProducer producer(rt);
  if (Status s = producer.open(); !s.isOk()) return fail(s);
  Status added;
  generateRecords(gen, [&](std::string l) {
    if (added.isOk()) added = producer.add(l);
  });
  if (added.isOk()) added = producer.finish();
  if (!added.isOk()) return fail(added);
  int64_t produced = producer.produced();
  std::cerr << "== produced " << produced << " raw records; running ingest, sync and api\n";
  auto started = std::chrono::steady_clock::now();
  RunOptions ro;
  ro.untilIdle = true;
  // Keep the demo's own output readable: stage logs only for warnings.
  if (cfg.logLevel == "info") log::setLevel(log::Level::kError);
  int rc = runStages(rt, ro, true);
  if (rc != 0) return rc;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto ing = rt.ingestDlq->stats();
  auto chg = rt.changesDlq->stats();
  auto page = rt.members->listUpdated(0, "", 1000000);
  int64_t lakeEvents = 0, lakeObjects = 0;
  if (rt.objects) {
    auto keys = rt.objects->list("lake/");
    for (const auto& k : keys.isOk() ? *keys : std::vector<std::string>{}) {
      auto text = rt.objects->get(k);
      if (!text.isOk()) continue;
      auto plain = gzipDecompress(*text);
      if (!plain.isOk()) continue;
      ++lakeObjects;
      lakeEvents += std::count(plain->begin(), plain->end(), '\n');
    }
  }
  std::cout << "\nprocessed " << produced << " records in " << secs << " s\n";
  std::cout << "  live members:        " << (page.isOk() ? page->members.size() : 0) << "\n";
  std::cout << "  member events:       " << lakeEvents << " in the data lake (" << lakeObjects
            << " objects under " << cfg.dataDir << "/objects/lake/)\n";
  std::cout << "  rejected (ingest DLQ): " << (ing.isOk() ? ing->visible : 0) << "\n";
  std::cout << "  failed (changes DLQ):  " << (chg.isOk() ? chg->visible : 0) << "\n";
  if (page.isOk() && !page->members.empty()) {
    const auto& m = page->members.front();
    std::cout << "\nexample member " << m.member.memberId << " (version " << m.version << ")\n";
  }
  std::string example = page.isOk() && !page->members.empty() ? page->members.front().member.memberId
                                                              : std::string("M0000001");
  std::string dd = " --data-dir " + cfg.dataDir;
  std::cout << "\nquery the API:\n"
            << "  build/memberflow" << dd << " api &\n"
            << "  TOKEN=$(build/memberflow" << dd << " token --scope member:read)\n"
            << "  curl -s -H \"Authorization: Bearer $TOKEN\" " << cfg.apiUrl() << "/member/"
            << example << "\n"
            << "  build/memberflow" << dd << " dlq list --queue ingest\n";
  if (serve) {
    std::cerr << "== serving the API on " << cfg.apiUrl() << " until Ctrl-C\n";
    gStop = false;
    RunOptions api;
    api.stages = {"api"};
    return runStages(rt, api);
  }
  return 0;
}

}  // namespace memberflow::cli
