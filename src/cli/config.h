// File: config.h
// memberflow's configuration: one TOML file plus MEMBERFLOW_<SECTION>_<KEY> environment
// overrides (e.g. MEMBERFLOW_API_PORT=9090). Each port names its adapter.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/status.h"

namespace memberflow {

// Each port's adapter, and the other closed choices of the file: parsed and checked once when
// the configuration loads, compared as enums everywhere, named only where they meet text (the
// file, the environment, messages): see name() below.
enum class SourceAdapter { kEmbedded, kKafka };
enum class ObjectStoreAdapter { kEmbedded, kS3 };
enum class LedgerAdapter { kEmbedded, kDynamoDb };
enum class QueueAdapter { kEmbedded, kSqs };
enum class MemberStoreAdapter { kEmbedded, kPostgres };
enum class SecretsAdapter { kEmbedded, kSecretsManager };
enum class TopicAdapter { kEmbedded, kSns };
enum class EventBusAdapter { kEmbedded, kEventBridge };
enum class Synchronous { kNormal, kFull };
enum class S3Addressing { kAuto, kPath, kVirtual };

// The configuration file's name of each choice ("kafka", "secretsmanager", "full", ...).
std::string_view name(SourceAdapter v);
std::string_view name(ObjectStoreAdapter v);
std::string_view name(LedgerAdapter v);
std::string_view name(QueueAdapter v);
std::string_view name(MemberStoreAdapter v);
std::string_view name(SecretsAdapter v);
std::string_view name(TopicAdapter v);
std::string_view name(EventBusAdapter v);
std::string_view name(Synchronous v);
std::string_view name(S3Addressing v);

struct Config {
  // [storage]
  std::string dataDir = "./var";
  Synchronous synchronous = Synchronous::kNormal;  // normal | full (fsync on every commit)
  // [adapters]
  SourceAdapter sourceAdapter = SourceAdapter::kEmbedded;                 // embedded | kafka
  ObjectStoreAdapter objectStoreAdapter = ObjectStoreAdapter::kEmbedded;  // embedded | s3
  LedgerAdapter ledgerAdapter = LedgerAdapter::kEmbedded;                 // embedded | dynamodb
  QueueAdapter queueAdapter = QueueAdapter::kEmbedded;                    // embedded | sqs
  MemberStoreAdapter memberStoreAdapter = MemberStoreAdapter::kEmbedded;  // embedded | postgres
  SecretsAdapter secretsAdapter = SecretsAdapter::kEmbedded;     // embedded | secretsmanager
  TopicAdapter topicAdapter = TopicAdapter::kEmbedded;           // embedded | sns
  EventBusAdapter eventBusAdapter = EventBusAdapter::kEmbedded;  // embedded | eventbridge
  // [kafka] (adapters.source = "kafka")
  std::string kafkaBootstrapServers;
  std::string kafkaSecurityProtocol;  // plaintext | ssl | sasl_plaintext | sasl_ssl
  std::string kafkaSaslMechanism;     // SCRAM-SHA-512, PLAIN, OAUTHBEARER (MSK IAM) ...
  std::string kafkaSaslUsername;
  std::string kafkaSaslPasswordSecret;  // name of the secret holding the password
  std::string kafkaSslCaLocation;
  std::string kafkaProperties;  // more librdkafka properties: "k=v,k=v"
  // [aws]
  std::string awsRegion = "us-east-1";
  std::string awsEndpoint;               // one endpoint for every service (moto, compatible stores)
  std::string awsBucket = "memberflow";  // adapters.object_store = s3
  std::string awsLedgerTable = "memberflow-ledger";    // adapters.ledger = dynamodb
  std::string awsParkingTable = "memberflow-parking";  // adapters.ledger = dynamodb
  std::string awsNamePrefix = "memberflow-";  // SQS queues, the SNS topic, API destinations
  std::string awsEventsRoleArn;               // the role EventBridge assumes for webhook targets
  std::string awsServiceEndpoints;  // "s3=http://…,sqs=http://…": per-service endpoint overrides
  S3Addressing awsS3Addressing =
      S3Addressing::kAuto;  // auto (path-style iff an endpoint override) | path | virtual
  // [postgres]  (adapters.member_store = "postgres")
  std::string pgConninfo =
      "host=127.0.0.1 port=5432 dbname=memberflow user=memberflow";  // no password
  std::string pgPasswordSecret;  // name of the password in the Secrets port (RDS); empty: none
  int64_t pgPoolSize = 8;
  int64_t pgMigrateOnStart = 0;  // 1: apply pending migrations when the store opens
  // [source]
  std::string topic = "member.changes";
  int32_t partitions = 8;
  std::string consumerGroup = "memberflow-ingest";
  // [ingest]
  int64_t ingestMaxBatch = 1000;
  int64_t ingestPollWaitMs = 200;
  int64_t maxRecordBytes = 1 << 20;
  std::string kmsKeyId;
  int64_t ledgerTtlHours = 24 * 7;
  // [api]
  std::string apiListen = "127.0.0.1";
  int64_t apiPort = 8080;
  int64_t apiThreads = 4;
  int64_t apiMaxBodyBytes = 1 << 20;
  int64_t apiCacheEntries = 100000;  // read cache of GET /member/{id}; 0: off
  int64_t apiRatePerClient = 2000;   // requests/s per OAuth client; 0: no limit
  int64_t apiRateBurst = 4000;
  // Not limited: the pipeline's own sync client (paced by its queue; a 429 would only delay it).
  std::string apiRateExemptClients = "memberflow-sync";
  int64_t apiFailedAuthPerAddress = 20;  // failed authentications/s per remote address (burst 10x)
  std::string apiTrustedProxies;       // load balancer addresses whose X-Forwarded-For is believed
  int64_t apiIdleTimeoutSeconds = 30;  // a request must arrive within this (slow clients)
  int64_t apiMaxHeaderBytes = 16384;
  std::string apiOpenEndpoints = "healthz,readyz,metrics,openapi";  // the rest need a token
  std::string apiTlsCert;  // PEM chain; with api.tls_key the API terminates TLS itself
  std::string apiTlsKey;
  // [auth]  (empty jwks_url and jwks_file: the embedded issuer, keys/signing-key.pem)
  std::string
      authJwksUrl;  // e.g. https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json
  std::string authJwksFile;
  std::string authIssuer;                 // required with an external key set
  std::string authAudience;               // required with an external key set
  std::string authAudienceClaim = "aud";  // or "client_id" (Cognito access tokens carry no aud)
  std::string authScopePrefix;            // stripped from scopes (Cognito: "<resource server>/")
  std::string authAlgorithms = "RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512,EdDSA";
  int64_t authSkewSeconds = 60;
  // The sync stage's OAuth client (client credentials). Empty token_url: this API's own
  // /oauth2/token (embedded issuer).
  std::string authTokenUrl;
  std::string authClientId = "memberflow-sync";
  std::string authClientSecret = "sync-client-secret";  // name in the Secrets port
  std::string authScopes = "member:read member:write";
  // The console's operator client (embedded issuer): it may ask for member:operate only.
  std::string authOperatorClientId = "memberflow-operator";
  std::string authOperatorClientSecret = "operator-client-secret";  // name in the Secrets port
  // [console]  (served by the API process at /console: docs/console.md)
  int64_t consoleEnabled = 1;  // 0: no console
  int64_t consoleSampleMs = 5000;
  // [sync]
  std::string syncApiUrl;  // default: http://<api.listen>:<api.port>
  int64_t syncWorkers = 16;
  // Receive loops on the changes queue (1..64). The FIFO queue hands a member's changes to one
  // of them at a time, so per-member order holds; while one loop waits on the API another
  // receives and deletes. Only with sync.visibility_ms >= sync.timeout_ms + 3 s (else one):
  // a loop starts no change later than that margin allows (SyncOptions::startWithinMs).
  int64_t syncConsumers = 4;
  // Changes per POST /members:batchWrite, at most one per member (0..500; 0: a PUT or DELETE
  // per change).
  int64_t syncBatchWriteMax = 500;
  int64_t syncMaxBatch = 200;
  int64_t syncVisibilityMs = 30000;
  int64_t syncMaxAttempts = 6;
  int64_t syncBackoffBaseMs = 200;
  int64_t syncBackoffCapMs = 20000;
  int64_t syncTimeoutMs = 10000;
  // [topic]
  std::string topicExtraSubscriptions;  // comma-separated queue names fed besides route, lake
  // [bus]
  std::string rulesFile;               // routing rules (JSON); empty: the bus has no rules
  int64_t busVisibilityMs = 30000;     // route queue and target deliveries
  int64_t busDeliveryConcurrency = 8;  // members a target delivers to at once (1..256)
  // [lake]
  std::string lakeWriter = "lake-0";
  int64_t lakeFlushMs = 1000;
  int64_t lakeMaxEvents = 5000;
  int64_t lakeVisibilityMs = 60000;  // must exceed flush_ms plus a write
  // [lambda]
  // `memberflow lambda`: take no new chunk of an invocation's batch once less than this is left
  // before the invocation's deadline (what is not taken is retried by the event source mapping).
  int64_t lambdaDeadlineMarginMs = 3000;
  // [log]
  log::Level logLevel = log::Level::kInfo;  // debug | info | warn | error
  // [run]
  // On SIGTERM the stages finish their in-flight batches; one still busy after this long (blocked
  // in a dependency that does not answer) is abandoned and the process exits: safe, since every
  // stage survives kill -9. Keep it below the orchestrator's own stop timeout (ECS: 30 s).
  int64_t shutdownTimeoutMs = 20000;

  std::string path(const std::string& name) const { return dataDir + "/" + name; }
  // Tokens come from an external issuer's key set (else the embedded issuer).
  bool externalIssuer() const { return !authJwksUrl.empty() || !authJwksFile.empty(); }
  std::string apiUrl() const;
};

// Loads the file (when given and present), then applies the environment. InvalidArgument
// names the key and what is wrong with it.
Result<Config> loadConfig(const std::optional<std::string>& file);
// The file part of loadConfig on TOML text (named `source` in messages): the defaults with the
// text's keys set, no environment, not checked (checkConfig does that). Pure, no I/O.
Result<Config> parseConfigToml(std::string_view text, const std::string& source);
// Every rule a config must satisfy; the list of problems, empty when fine.
std::vector<std::string> checkConfig(const Config& c);

// aws.service_endpoints: "s3=http://127.0.0.1:9000, sqs=http://…" -> {service: url}.
Result<std::map<std::string, std::string>> parseServiceEndpoints(const std::string& text);

}  // namespace memberflow
