#include "cli/wiring.h"

#include <fstream>
#include <set>
#include <sstream>

#include "adapters/http/oauth_client.h"
#include "api/auth.h"
#include "api/member_cache.h"
#include "cli/wiring_families.h"
#include "common/text.h"

namespace memberflow::cli {

using namespace wiring;

Wiring::Wiring(Config cfg)
    : cfg_(std::move(cfg)),
      clock_(std::make_unique<SystemClock>()),
      families_(std::make_unique<Families>()) {
  families_->db.synchronousFull = cfg_.synchronous == Synchronous::kFull;
}

// Members go in reverse order of declaration: the ports before the families they use.
Wiring::~Wiring() = default;

Clock& Wiring::clock() { return *clock_; }

void Wiring::checkpointInBackground() { families_->db.backgroundCheckpoint = true; }

// ---- change source and sink -------------------------------------------------------------------

Status Wiring::openSource(bool observe) {
  if (source_) return Status::ok();
  switch (cfg_.sourceAdapter) {
    case SourceAdapter::kEmbedded:
      MF_RETURN_IF_ERROR(embedded_family::log(*families_, cfg_));
      source_ = families_->log.get();
      return Status::ok();
    case SourceAdapter::kKafka: {
      auto k = kafka_family::source(cfg_, secrets(), observe);
      if (!k.isOk()) return k.status();
      ownedSource_ = std::move(k).value();
      source_ = ownedSource_.get();
      return Status::ok();
    }
  }
  return Status::internal("unknown adapters.source");
}

ChangeSource& Wiring::source() { return *source_; }

Status Wiring::openSink() {
  if (sink_) return Status::ok();
  switch (cfg_.sourceAdapter) {
    case SourceAdapter::kEmbedded:
      MF_RETURN_IF_ERROR(embedded_family::log(*families_, cfg_));
      sink_ = families_->log.get();
      return Status::ok();
    case SourceAdapter::kKafka: {
      auto k = kafka_family::sink(cfg_, secrets());
      if (!k.isOk()) return k.status();
      ownedSink_ = std::move(k).value();
      sink_ = ownedSink_.get();
      return Status::ok();
    }
  }
  return Status::internal("unknown adapters.source");
}

ChangeSink& Wiring::sink() { return *sink_; }

Status Wiring::openReader() {
  if (reader_) return Status::ok();
  switch (cfg_.sourceAdapter) {
    case SourceAdapter::kEmbedded:
      MF_RETURN_IF_ERROR(embedded_family::log(*families_, cfg_));
      reader_ = families_->log.get();
      return Status::ok();
    case SourceAdapter::kKafka: {
      auto k = kafka_family::reader(cfg_, secrets());
      if (!k.isOk()) return k.status();
      ownedReader_ = std::move(k).value();
      reader_ = ownedReader_.get();
      return Status::ok();
    }
  }
  return Status::internal("unknown adapters.source");
}

SourceReader& Wiring::reader() { return *reader_; }

Result<SourceRedactor*> Wiring::redactor() {
  switch (cfg_.sourceAdapter) {
    case SourceAdapter::kEmbedded:
      MF_RETURN_IF_ERROR(embedded_family::log(*families_, cfg_));
      return static_cast<SourceRedactor*>(families_->log.get());
    case SourceAdapter::kKafka: return static_cast<SourceRedactor*>(nullptr);
  }
  return Status::internal("unknown adapters.source");
}

// ---- object store and ledger ------------------------------------------------------------------

Status Wiring::openObjects() {
  if (objects_) return Status::ok();
  Result<std::unique_ptr<ObjectStore>> o = Status::internal("unknown adapters.object_store");
  switch (cfg_.objectStoreAdapter) {
    case ObjectStoreAdapter::kEmbedded: o = embedded_family::objects(cfg_); break;
    case ObjectStoreAdapter::kS3: o = aws_family::objects(*families_, cfg_, *clock_); break;
  }
  if (!o.isOk()) return o.status();
  objects_ = std::move(o).value();
  return Status::ok();
}

ObjectStore& Wiring::objects() { return *objects_; }

Status Wiring::openLedger() {
  if (ledger_) return Status::ok();
  Result<std::unique_ptr<Ledger>> l = Status::internal("unknown adapters.ledger");
  switch (cfg_.ledgerAdapter) {
    case LedgerAdapter::kEmbedded: l = embedded_family::ledger(*families_, cfg_); break;
    case LedgerAdapter::kDynamoDb: l = aws_family::ledger(*families_, cfg_, *clock_); break;
  }
  if (!l.isOk()) return l.status();
  ledger_ = std::move(l).value();
  return Status::ok();
}

Ledger& Wiring::ledger() { return *ledger_; }

Status Wiring::openParking(bool create) {
  // Opened without creating first (the API of a `run` that also syncs): create it now, once.
  if (parking_ && create && !parkingCreated_ && cfg_.ledgerAdapter == LedgerAdapter::kDynamoDb) {
    MF_RETURN_IF_ERROR(aws_family::createParkingTable(*families_, cfg_, *clock_));
    parkingCreated_ = true;
  }
  if (parking_) return Status::ok();
  parkingCreated_ = create;
  Result<std::unique_ptr<ParkingStore>> p = Status::internal("unknown adapters.ledger");
  switch (cfg_.ledgerAdapter) {
    case LedgerAdapter::kEmbedded: p = embedded_family::parking(*families_, cfg_); break;
    case LedgerAdapter::kDynamoDb:
      p = aws_family::parking(*families_, cfg_, *clock_, create);
      break;
  }
  if (!p.isOk()) return p.status();
  parking_ = std::move(p).value();
  return Status::ok();
}

ParkingStore& Wiring::parking() { return *parking_; }

// ---- queues and the topic -----------------------------------------------------------------------

Result<std::unique_ptr<Queue>> Wiring::makeQueue(const std::string& name, const std::string& dlq,
                                                 int maxReceives, bool fifo) {
  switch (cfg_.queueAdapter) {
    case QueueAdapter::kEmbedded: return embedded_family::queue(*families_, name, dlq, maxReceives);
    case QueueAdapter::kSqs:
      return aws_family::queue(*families_, cfg_, *clock_, name, dlq, maxReceives, fifo);
  }
  return Status::internal("unknown adapters.queue");
}

Status Wiring::openQueues() {
  if (changes_) return Status::ok();
  if (cfg_.queueAdapter == QueueAdapter::kEmbedded) {
    MF_RETURN_IF_ERROR(embedded_family::queueStore(*families_, cfg_, *clock_));
  }
  // A safety net behind sync's own attempt limit: a message that keeps crashing its consumer
  // is moved to the DLQ by the queue itself. The ingest DLQ is no redrive target and needs no
  // order: a standard queue on SQS, where a FIFO queue could not be listed past a member's
  // first rejection.
  struct Spec {
    std::unique_ptr<Queue>* slot;
    const char* name;
    const char* dlq;
    int maxReceives;
    bool fifo;
  } specs[] = {
      {&changesDlq_, kChangesDlq, "", 0, true},
      {&changes_, kChangesQueue, kChangesDlq, static_cast<int>(cfg_.syncMaxAttempts) + 4, true},
      {&ingestDlq_, kIngestDlq, "", 0, false},
      {&routeDlq_, kRouteDlq, "", 0, true},
      {&routeQueue_, kRouteQueue, kRouteDlq, 10, true},
      {&lakeDlq_, kLakeDlq, "", 0, true},
      {&lakeQueue_, kLakeQueue, kLakeDlq, 10, true}};
  for (auto& sp : specs) {
    auto q = makeQueue(sp.name, sp.dlq, sp.maxReceives, sp.fifo);
    if (!q.isOk()) {
      changes_.reset();  // not opened: the next call tries again
      return q.status();
    }
    *sp.slot = std::move(q).value();
  }
  std::vector<std::string> subscriptions{kRouteQueue, kLakeQueue};
  for (const auto& q : splitList(cfg_.topicExtraSubscriptions)) {
    if (!queueNamed(q))
      return Status::unavailable("cannot open topic.extra_subscriptions queue " + q);
    subscriptions.push_back(q);
  }
  Result<std::unique_ptr<Topic>> t = Status::internal("unknown adapters.topic");
  switch (cfg_.topicAdapter) {
    case TopicAdapter::kEmbedded:
      t = embedded_family::topic(*families_, "member-events", subscriptions);
      break;
    case TopicAdapter::kSns:
      t = aws_family::topic(*families_, cfg_, *clock_, "member-events", subscriptions);
      break;
  }
  if (!t.isOk()) {
    changes_.reset();
    return t.status();
  }
  topic_ = std::move(t).value();
  return Status::ok();
}

Queue& Wiring::changes() { return *changes_; }
Queue& Wiring::changesDlq() { return *changesDlq_; }
Queue& Wiring::ingestDlq() { return *ingestDlq_; }
Queue& Wiring::routeQueue() { return *routeQueue_; }
Queue& Wiring::routeDlq() { return *routeDlq_; }
Queue& Wiring::lakeQueue() { return *lakeQueue_; }
Queue& Wiring::lakeDlq() { return *lakeDlq_; }
Topic& Wiring::topic() { return *topic_; }

Queue* Wiring::queueNamed(const std::string& name) {
  if (name == kChangesQueue && changes_) return changes_.get();
  if (name == kRouteQueue && routeQueue_) return routeQueue_.get();
  if (name == kLakeQueue && lakeQueue_) return lakeQueue_.get();
  auto it = namedQueues_.find(name);
  if (it == namedQueues_.end()) {
    auto q = makeQueue(name, "", 0);
    if (!q.isOk()) return nullptr;
    it = namedQueues_.emplace(name, std::move(q).value()).first;
  }
  return it->second.get();
}

Queue* Wiring::dlqNamed(const std::string& n) {
  if (n == "ingest" || n == kIngestDlq) return ingestDlq_.get();
  if (n == "changes" || n == "sync" || n == kChangesDlq) return changesDlq_.get();
  if (n == "route" || n == kRouteDlq) return routeDlq_.get();
  if (n == "lake" || n == kLakeDlq) return lakeDlq_.get();
  if (n.rfind("target-", 0) == 0) {
    std::string base =
        n.size() > 4 && n.compare(n.size() - 4, 4, "-dlq") == 0 ? n.substr(0, n.size() - 4) : n;
    return queueNamed(base + "-dlq");
  }
  return nullptr;
}

std::vector<Queue*> Wiring::openedQueues() {
  std::vector<Queue*> all;
  for (auto* q :
       {&changes_, &changesDlq_, &ingestDlq_, &routeQueue_, &routeDlq_, &lakeQueue_, &lakeDlq_}) {
    if (*q) all.push_back(q->get());
  }
  for (auto& [n, q] : namedQueues_) all.push_back(q.get());
  return all;
}

// ---- member store
// ---------------------------------------------------------------------------------

Status Wiring::openMembers() {
  if (members_) return Status::ok();
  Result<std::unique_ptr<MemberStore>> m = Status::internal("unknown adapters.member_store");
  switch (cfg_.memberStoreAdapter) {
    case MemberStoreAdapter::kEmbedded: m = embedded_family::members(*families_, cfg_); break;
    case MemberStoreAdapter::kPostgres: m = postgres_family::members(cfg_, secrets()); break;
  }
  if (!m.isOk()) return m.status();
  members_ = std::move(m).value();
  return Status::ok();
}

MemberStore& Wiring::members() { return *members_; }

// ---- event bus
// ---------------------------------------------------------------------------------------

Result<RoutingConfig> Wiring::readRules() const {
  if (cfg_.rulesFile.empty()) return RoutingConfig{};  // a bus without rules
  std::ifstream in(cfg_.rulesFile);
  if (!in) return Status::invalidArgument("cannot read bus.rules_file " + cfg_.rulesFile);
  std::stringstream ss;
  ss << in.rdbuf();
  return parseRoutingConfig(ss.str());
}

Status Wiring::openRouting() {
  if (routing_) return Status::ok();
  MF_RETURN_IF_ERROR(openQueues());
  auto rules = readRules();
  if (!rules.isOk()) return rules.status();
  // The embedded buses keep a reference to the rules: they live in routing_ from here on.
  routing_ = std::move(rules).value();
  const RoutingConfig& rc = *routing_;
  std::set<std::string> names{"default"};
  for (const auto& r : rc.rules) names.insert(r.bus);
  for (const auto& t : rc.targets) {
    if (t.kind == TargetConfig::Kind::kBus) names.insert(t.bus);
  }
  for (const auto& n : names) {
    switch (cfg_.eventBusAdapter) {
      case EventBusAdapter::kEmbedded: {
        auto bus = embedded_family::bus(*families_, n, rc);
        if (!bus.isOk()) {
          buses_.clear();
          routing_.reset();  // not opened: the next call tries again
          return bus.status();
        }
        buses_[n] = std::move(bus).value();
        break;
      }
      case EventBusAdapter::kEventBridge:
        // Rules and targets live in EventBridge (`memberflow aws provision`), which delivers.
        buses_[n] = aws_family::bus(*families_, cfg_, *clock_, n);
        break;
    }
  }
  (void)secrets();  // webhook targets read their auth header from it
  return Status::ok();
}

const RoutingConfig& Wiring::routing() { return *routing_; }

EventBus* Wiring::bus(const std::string& name) {
  auto it = buses_.find(name);
  return it == buses_.end() ? nullptr : it->second.get();
}

const std::vector<TargetConfig>& Wiring::deliveredTargets() {
  static const std::vector<TargetConfig> kNone;
  return cfg_.eventBusAdapter == EventBusAdapter::kEventBridge ? kNone : routing_->targets;
}

// ---- lake, secrets, keys
// --------------------------------------------------------------------------

Status Wiring::openLake() {
  if (lakeJournal_) return Status::ok();
  MF_RETURN_IF_ERROR(openObjects());
  // The journal is local to the lake process (one lake writer) in both modes.
  auto j = embedded_family::lakeJournal(*families_, cfg_);
  if (!j.isOk()) return j.status();
  lakeJournal_ = std::move(j).value();
  return Status::ok();
}

LakeJournal& Wiring::lakeJournal() { return *lakeJournal_; }

Status Wiring::openDeliveryLog() {
  if (deliveryLog_) return Status::ok();
  // Local in both modes: only targets memberflow delivers itself (the embedded bus) record.
  auto d = embedded_family::deliveryLog(*families_, cfg_);
  if (!d.isOk()) return d.status();
  deliveryLog_ = std::move(d).value();
  return Status::ok();
}

DeliveryLog& Wiring::deliveryLog() { return *deliveryLog_; }

Status Wiring::openAudit() {
  if (audit_) return Status::ok();
  // Beside the member store: PostgreSQL's `audit` table (shared by every API task, kept across
  // restarts), or <data_dir>/audit.db.
  Result<std::unique_ptr<AuditLog>> a = Status::internal("no audit log");
  if (cfg_.memberStoreAdapter == MemberStoreAdapter::kPostgres) {
    MF_RETURN_IF_ERROR(openMembers());  // checks (or migrates) the schema first
    a = postgres_family::auditLog(cfg_, secrets());
  } else {
    a = embedded_family::auditLog(*families_, cfg_);
  }
  if (!a.isOk()) return a.status();
  audit_ = std::move(a).value();
  return Status::ok();
}

AuditLog& Wiring::audit() { return *audit_; }

Secrets& Wiring::secrets() {
  if (!secrets_) {
    switch (cfg_.secretsAdapter) {
      case SecretsAdapter::kEmbedded: secrets_ = embedded_family::secrets(cfg_); break;
      case SecretsAdapter::kSecretsManager:
        secrets_ = aws_family::secrets(*families_, cfg_, *clock_);
        break;
    }
  }
  return *secrets_;
}

Result<std::shared_ptr<api::LocalSigningKey>> Wiring::signingKey() {
  if (!key_) {
    auto k = api::LocalSigningKey::loadOrCreate(cfg_.path("keys/signing-key.pem"), *clock_);
    if (!k.isOk()) return k.status();
    key_ = *k;
  }
  return key_;
}

Result<std::string> Wiring::clientSecret() { return embeddedClientSecret(cfg_.authClientSecret); }

Result<std::string> Wiring::operatorSecret() {
  return embeddedClientSecret(cfg_.authOperatorClientSecret);
}

Result<std::string> Wiring::embeddedClientSecret(const std::string& name) {
  auto s = secrets().get(name);
  if (s.isOk() || s.status().code() != Code::kNotFound ||
      cfg_.secretsAdapter != SecretsAdapter::kEmbedded)
    return s;
  return embedded_family::createdClientSecret(secrets(), cfg_, name);
}

// ---- ingest and sync ----------------------------------------------------------------------------

Status Wiring::openIngestSide(bool observe) {
  MF_RETURN_IF_ERROR(openSource(observe));
  MF_RETURN_IF_ERROR(openQueues());
  MF_RETURN_IF_ERROR(openObjects());
  return openLedger();
}

IngestOptions Wiring::ingestOptions() const {
  IngestOptions o;
  o.maxBatch = static_cast<size_t>(cfg_.ingestMaxBatch);
  o.pollWait = std::chrono::milliseconds(cfg_.ingestPollWaitMs);
  o.decode.maxValueBytes = static_cast<size_t>(cfg_.maxRecordBytes);
  if (!cfg_.kmsKeyId.empty()) o.kmsKeyId = cfg_.kmsKeyId;
  return o;
}

RouteOptions Wiring::routeOptions() const {
  RouteOptions ro;
  ro.visibilityMs = cfg_.busVisibilityMs;
  return ro;
}

LakeOptions Wiring::lakeOptions() const {
  LakeOptions lo;
  lo.writer = cfg_.lakeWriter;
  lo.flushAfter = std::chrono::milliseconds(cfg_.lakeFlushMs);
  lo.maxEvents = static_cast<size_t>(cfg_.lakeMaxEvents);
  lo.visibilityMs = cfg_.lakeVisibilityMs;
  if (!cfg_.kmsKeyId.empty()) lo.kmsKeyId = cfg_.kmsKeyId;
  return lo;
}

std::unique_ptr<TokenProvider> Wiring::syncTokens(HttpClient* client) {
  std::string tokenUrl =
      cfg_.authTokenUrl.empty() ? syncOptions().apiBaseUrl + "/oauth2/token" : cfg_.authTokenUrl;
  return std::make_unique<http::ClientCredentialsTokens>(
      client ? *client : http(), tokenUrl, cfg_.authClientId, [this] { return clientSecret(); },
      cfg_.authScopes, clock());
}

void Wiring::useApiPort(uint16_t port) {
  if (cfg_.syncApiUrl.empty()) cfg_.apiPort = port;
}

SyncOptions Wiring::syncOptions() const {
  SyncOptions o;
  o.apiBaseUrl = cfg_.apiUrl();
  o.workers = static_cast<int>(cfg_.syncWorkers);
  o.batchWriteMax = static_cast<size_t>(cfg_.syncBatchWriteMax);
  o.maxBatch = static_cast<size_t>(cfg_.syncMaxBatch);
  o.visibilityMs = cfg_.syncVisibilityMs;
  o.requestTimeoutMs = static_cast<long>(cfg_.syncTimeoutMs);
  o.backoff = {cfg_.syncBackoffBaseMs, cfg_.syncBackoffCapMs,
               static_cast<int>(cfg_.syncMaxAttempts)};
  return o;
}

HttpClient& Wiring::http() { return families_->http; }

// ---- commands about one family ----------------------------------------------------------------

Result<Provisioned> Wiring::provisionEventBridge() {
  auto rules = readRules();
  if (!rules.isOk()) return rules.status();
  auto queues = aws_family::provision(*families_, cfg_, *clock_, *rules, secrets());
  if (!queues.isOk()) return queues.status();
  return Provisioned{rules->rules.size(), *queues};
}

Result<Migrated> Wiring::migrateMembers() { return postgres_family::migrate(cfg_, secrets()); }

}  // namespace memberflow::cli
