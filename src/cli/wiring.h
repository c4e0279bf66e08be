// File: wiring.h
// The composition root: the one place that knows concrete adapter types.
//
// A Wiring owns the adapters of one process. Each port is opened on first use with the adapter
// the configuration names: one factory per port below, each a `switch` over the adapter kind
// (config.h), delegating to the family's own file:
//   wiring_embedded.cc  SQLite and files (source log, queues and topic, ledger, member store,
//                       object store, lake journal, embedded event bus, secrets)
//   wiring_kafka.cc     the librdkafka source and sink
//   wiring_aws.cc       the AWS client and the S3, SQS, SNS, DynamoDB, EventBridge and
//                       Secrets Manager adapters
//   wiring_postgres.cc  the PostgreSQL member store and its schema check
// Commands (commands/*.cc) and the stage runner (stage_runner.cc) ask a Wiring for ports and
// never name an adapter.
//
// Not thread-safe: a process wires itself on one thread, before its stages start; the ports
// it hands out are thread-safe as their contracts say.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/config.h"
#include "domain/routing.h"
#include "ports/audit_log.h"
#include "ports/change_source.h"
#include "ports/clock.h"
#include "ports/delivery_log.h"
#include "ports/event_bus.h"
#include "ports/http_client.h"
#include "ports/lake_journal.h"
#include "ports/ledger.h"
#include "ports/member_store.h"
#include "ports/object_store.h"
#include "ports/parking.h"
#include "ports/queue.h"
#include "ports/secrets.h"
#include "ports/token_provider.h"
#include "ports/topic.h"
#include "stages/ingest.h"
#include "stages/lake.h"
#include "stages/route.h"
#include "stages/sync.h"

namespace memberflow::api {
class LocalSigningKey;
class MemberCache;
}  // namespace memberflow::api

namespace memberflow::cli {

namespace wiring {
struct Families;  // the adapter families' shared state (wiring_families.h)
}

// Queue names of the pipeline (the SQS names get aws.name_prefix and ".fifo").
inline constexpr const char* kChangesQueue = "changes";
inline constexpr const char* kChangesDlq = "changes-dlq";
inline constexpr const char* kIngestDlq = "ingest-dlq";
inline constexpr const char* kRouteQueue = "route";
inline constexpr const char* kRouteDlq = "route-dlq";
inline constexpr const char* kLakeQueue = "lake";
inline constexpr const char* kLakeDlq = "lake-dlq";

// What `db migrate` did.
struct Migrated {
  std::vector<int> applied;  // versions applied now
  int version = 0;           // the schema version afterwards
};

// What `aws provision` created or updated.
struct Provisioned {
  size_t rules = 0;
  size_t queues = 0;
};

// `erase`, embedded: leaves no trace of deleted rows in the SQLite databases under data_dir
// (scrubDatabase on each). REQUIRES: no process has them open (the Wiring that erased is gone,
// the pipeline stopped); FailedPrecondition otherwise. Returns how many it scrubbed.
Result<int64_t> scrubEmbeddedDatabases(const Config& cfg);

class Wiring {
 public:
  explicit Wiring(Config cfg);
  ~Wiring();
  Wiring(const Wiring&) = delete;
  Wiring& operator=(const Wiring&) = delete;

  const Config& config() const { return cfg_; }
  Clock& clock();
  // For a long-running process (`run`), before any port opens: the embedded databases
  // checkpoint their WAL on a thread of their own, not in the commit that fills it.
  void checkpointInBackground();

  // ---- ports, opened on first use; each open* is idempotent --------------------------------
  // The consumer of the change topic. `observe`: only reads offsets and lag, never joins the
  // consumer group (status, replay and redrive must not rebalance a running pipeline).
  Status openSource(bool observe = false);
  ChangeSource& source();  // REQUIRES: openSource
  Status openSink();
  ChangeSink& sink();  // REQUIRES: openSink
  // Reads the topic by offset for `reconcile`, never joining the consumer group.
  Status openReader();
  SourceReader& reader();  // REQUIRES: openReader
  // The source log memberflow owns, for `erase`: the embedded log. nullptr for Kafka: a topic
  // is not memberflow's to rewrite.
  Result<SourceRedactor*> redactor();
  Status openObjects();
  ObjectStore& objects();  // REQUIRES: openObjects
  Status openLedger();
  Ledger& ledger();  // REQUIRES: openLedger
  // Parked members and their held changes: beside the ledger (SQLite, or DynamoDB).
  // `create`: create the DynamoDB table when missing (not from the API, whose role only reads).
  Status openParking(bool create = true);
  ParkingStore& parking();  // REQUIRES: openParking
  // The pipeline's queues (changes, route, lake and their DLQs, the ingest DLQ) and the
  // member-events topic with its subscriptions.
  Status openQueues();
  Queue& changes();  // REQUIRES: openQueues (and for the rest of this group)
  Queue& changesDlq();
  Queue& ingestDlq();
  Queue& routeQueue();
  Queue& routeDlq();
  Queue& lakeQueue();
  Queue& lakeDlq();
  Topic& topic();
  // Any queue by name (targets' queues, extra subscriptions), created on first use; nullptr
  // when it cannot be opened. REQUIRES: openQueues.
  Queue* queueNamed(const std::string& name);
  // A DLQ by the name an operator types: ingest, changes (or sync), route, lake, target-<t>.
  // nullptr when there is none. REQUIRES: openQueues.
  Queue* dlqNamed(const std::string& name);
  // Every queue this process has opened, for gauges.
  std::vector<Queue*> openedQueues();
  Status openMembers();
  MemberStore& members();  // REQUIRES: openMembers
  // The rules file and one event bus per bus it names (embedded, or EventBridge which holds
  // the rules itself). Opens the queues.
  Status openRouting();
  const RoutingConfig& routing();          // REQUIRES: openRouting
  EventBus* bus(const std::string& name);  // nullptr when unknown. REQUIRES: openRouting
  // The targets memberflow delivers itself: all of them on the embedded bus, none when
  // EventBridge delivers. REQUIRES: openRouting.
  const std::vector<TargetConfig>& deliveredTargets();
  // The lake's object store and journal.
  Status openLake();
  LakeJournal& lakeJournal();  // REQUIRES: openLake
  // What each delivered target received (<data_dir>/deliveries.db): written by target
  // delivery, read by `reconcile`.
  Status openDeliveryLog();
  DeliveryLog& deliveryLog();  // REQUIRES: openDeliveryLog
  // Who did what through the console: beside the member store (PostgreSQL, or
  // <data_dir>/audit.db).
  Status openAudit();
  AuditLog& audit();  // REQUIRES: openAudit
  Secrets& secrets();
  // The embedded issuer's signing key (keys/signing-key.pem, created on first use).
  Result<std::shared_ptr<api::LocalSigningKey>> signingKey();
  // The sync stage's client secret. With the embedded Secrets port a missing one is created
  // (random, mode 0600, in <data_dir>/secrets) so the API and sync share it.
  Result<std::string> clientSecret();
  // The console's operator client secret (auth.operator_client_secret), created alike.
  Result<std::string> operatorSecret();

  // ---- commands about one family ----------------------------------------------------------
  // `aws provision`: the EventBridge buses, rules and targets of bus.rules_file.
  Result<Provisioned> provisionEventBridge();
  // `db migrate`: the pending PostgreSQL migrations.
  Result<Migrated> migrateMembers();

  // ---- what ingest needs, at once (source, queues, objects, ledger) -------------------------
  Status openIngestSide(bool observe = false);
  IngestOptions ingestOptions() const;
  SyncOptions syncOptions() const;
  RouteOptions routeOptions() const;
  LakeOptions lakeOptions() const;
  // The sync stage's bearer tokens: client credentials against auth.token_url, or this
  // deployment's own API (the embedded issuer), fetched through `client` (default: http()).
  std::unique_ptr<TokenProvider> syncTokens(HttpClient* client = nullptr);
  // `run` serving the API in the same process on api.port 0 (any free port): sync's calls go
  // to the port the server took. No effect when sync.api_url is set.
  void useApiPort(uint16_t port);

  // The HTTP client of everything that is not an AWS call: sync's API calls and tokens,
  // webhook targets, the JWKS of an external issuer. Thread-safe.
  HttpClient& http();

  // The API's read cache lives here so that it outlives the store's change feed, which calls
  // into it until the store is destroyed.
  std::unique_ptr<api::MemberCache>& readCache() { return readCache_; }

 private:
  Result<RoutingConfig> readRules() const;
  Result<std::string> embeddedClientSecret(const std::string& name);
  Result<std::unique_ptr<Queue>> makeQueue(const std::string& name, const std::string& dlq,
                                           int maxReceives, bool fifo = true);

  Config cfg_;
  std::unique_ptr<Clock> clock_;
  std::unique_ptr<wiring::Families> families_;
  ChangeSource* source_ = nullptr;
  ChangeSink* sink_ = nullptr;
  std::unique_ptr<ChangeSource> ownedSource_;
  std::unique_ptr<ChangeSink> ownedSink_;
  SourceReader* reader_ = nullptr;
  std::unique_ptr<SourceReader> ownedReader_;
  std::unique_ptr<ObjectStore> objects_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<ParkingStore> parking_;
  bool parkingCreated_ = false;  // its table created (or known to be) where that applies
  std::unique_ptr<Queue> changes_, changesDlq_, ingestDlq_, routeQueue_, routeDlq_, lakeQueue_,
      lakeDlq_;
  std::unique_ptr<Topic> topic_;
  std::map<std::string, std::unique_ptr<Queue>> namedQueues_;
  // Declared before the store: the store's change-feed thread calls into it until it stops.
  std::unique_ptr<api::MemberCache> readCache_;
  std::unique_ptr<MemberStore> members_;
  std::optional<RoutingConfig> routing_;
  std::map<std::string, std::unique_ptr<EventBus>> buses_;
  std::unique_ptr<LakeJournal> lakeJournal_;
  std::unique_ptr<DeliveryLog> deliveryLog_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<Secrets> secrets_;
  std::shared_ptr<api::LocalSigningKey> key_;
};

}  // namespace memberflow::cli
