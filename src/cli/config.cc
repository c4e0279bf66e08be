#include "cli/config.h"

#include <toml++/toml.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>

#include "adapters/postgres/pg.h"
#include "common/text.h"

namespace memberflow {
namespace {

struct Key {
  const char* section;
  const char* name;
  std::function<bool(Config&, const std::string&)> setString;  // from env
  // nullptr when set, else what is wrong with the value ("has the wrong type", "must be one
  // of embedded, sqs").
  std::function<const char*(Config&, const toml::node&)> setToml;
  std::string expected = {};  // what a rejected value from the environment should have been
};

// The names of a closed choice, in the order of its enum.
template <class E>
struct Choice {
  E value;
  std::string_view name;
};

constexpr Choice<SourceAdapter> kSources[] = {{SourceAdapter::kEmbedded, "embedded"},
                                              {SourceAdapter::kKafka, "kafka"}};
constexpr Choice<ObjectStoreAdapter> kObjectStores[] = {{ObjectStoreAdapter::kEmbedded, "embedded"},
                                                        {ObjectStoreAdapter::kS3, "s3"}};
constexpr Choice<LedgerAdapter> kLedgers[] = {{LedgerAdapter::kEmbedded, "embedded"},
                                              {LedgerAdapter::kDynamoDb, "dynamodb"}};
constexpr Choice<QueueAdapter> kQueues[] = {{QueueAdapter::kEmbedded, "embedded"},
                                            {QueueAdapter::kSqs, "sqs"}};
constexpr Choice<MemberStoreAdapter> kMemberStores[] = {
    {MemberStoreAdapter::kEmbedded, "embedded"}, {MemberStoreAdapter::kPostgres, "postgres"}};
constexpr Choice<SecretsAdapter> kSecrets[] = {{SecretsAdapter::kEmbedded, "embedded"},
                                               {SecretsAdapter::kSecretsManager, "secretsmanager"}};
constexpr Choice<TopicAdapter> kTopics[] = {{TopicAdapter::kEmbedded, "embedded"},
                                            {TopicAdapter::kSns, "sns"}};
constexpr Choice<EventBusAdapter> kBuses[] = {{EventBusAdapter::kEmbedded, "embedded"},
                                              {EventBusAdapter::kEventBridge, "eventbridge"}};
constexpr Choice<Synchronous> kSynchronous[] = {{Synchronous::kNormal, "normal"},
                                                {Synchronous::kFull, "full"}};
constexpr Choice<S3Addressing> kAddressing[] = {{S3Addressing::kAuto, "auto"},
                                                {S3Addressing::kPath, "path"},
                                                {S3Addressing::kVirtual, "virtual"}};
constexpr Choice<log::Level> kLevels[] = {{log::Level::kDebug, "debug"},
                                          {log::Level::kInfo, "info"},
                                          {log::Level::kWarn, "warn"},
                                          {log::Level::kError, "error"}};

template <class E, size_t N>
std::string_view nameIn(const Choice<E> (&choices)[N], E v) {
  for (const auto& c : choices) {
    if (c.value == v) return c.name;
  }
  return "?";
}

template <class E, size_t N>
Key choiceKey(const char* s, const char* n, E Config::*m, const Choice<E> (&choices)[N]) {
  auto set = [m, &choices](Config& c, std::string_view v) {
    for (const auto& ch : choices) {
      if (ch.name == v) {
        c.*m = ch.value;
        return true;
      }
    }
    return false;
  };
  std::string expected = "must be one of ";
  for (size_t i = 0; i < N; ++i) expected += (i ? ", " : "") + std::string(choices[i].name);
  return {s, n, [set](Config& c, const std::string& v) { return set(c, v); },
          [set, expected](Config& c, const toml::node& v) -> const char* {
            return v.is_string() && set(c, v.as_string()->get()) ? nullptr : expected.c_str();
          },
          expected};
}

template <class T>
Key strKey(const char* s, const char* n, std::string Config::*m) {
  return {s, n,
          [m](Config& c, const std::string& v) {
            c.*m = v;
            return true;
          },
          [m](Config& c, const toml::node& v) -> const char* {
            if (!v.is_string()) return "has the wrong type";
            c.*m = v.as_string()->get();
            return nullptr;
          }};
}

// A value the setting's type cannot hold is refused: cast, 4294967297 partitions would be 1.
template <class T>
bool fits(long long x) {
  return x >= std::numeric_limits<T>::min() && x <= std::numeric_limits<T>::max();
}

template <class T>
Key intKey(const char* s, const char* n, T Config::*m) {
  return {s, n,
          [m](Config& c, const std::string& v) {
            try {
              size_t pos = 0;
              long long x = std::stoll(v, &pos);
              if (pos != v.size() || !fits<T>(x)) return false;
              c.*m = static_cast<T>(x);
              return true;
            } catch (...) {
              return false;
            }
          },
          [m](Config& c, const toml::node& v) -> const char* {
            if (!v.is_integer()) return "has the wrong type";
            if (!fits<T>(v.as_integer()->get())) return "is out of range";
            c.*m = static_cast<T>(v.as_integer()->get());
            return nullptr;
          }};
}

const std::vector<Key>& keys() {
  static const std::vector<Key> k = {
      strKey<std::string>("storage", "data_dir", &Config::dataDir),
      choiceKey("storage", "synchronous", &Config::synchronous, kSynchronous),
      choiceKey("adapters", "source", &Config::sourceAdapter, kSources),
      choiceKey("adapters", "object_store", &Config::objectStoreAdapter, kObjectStores),
      choiceKey("adapters", "ledger", &Config::ledgerAdapter, kLedgers),
      choiceKey("adapters", "queue", &Config::queueAdapter, kQueues),
      choiceKey("adapters", "member_store", &Config::memberStoreAdapter, kMemberStores),
      choiceKey("adapters", "secrets", &Config::secretsAdapter, kSecrets),
      choiceKey("adapters", "topic", &Config::topicAdapter, kTopics),
      choiceKey("adapters", "event_bus", &Config::eventBusAdapter, kBuses),
      strKey<std::string>("kafka", "bootstrap_servers", &Config::kafkaBootstrapServers),
      strKey<std::string>("kafka", "security_protocol", &Config::kafkaSecurityProtocol),
      strKey<std::string>("kafka", "sasl_mechanism", &Config::kafkaSaslMechanism),
      strKey<std::string>("kafka", "sasl_username", &Config::kafkaSaslUsername),
      strKey<std::string>("kafka", "sasl_password_secret", &Config::kafkaSaslPasswordSecret),
      strKey<std::string>("kafka", "ssl_ca_location", &Config::kafkaSslCaLocation),
      strKey<std::string>("kafka", "properties", &Config::kafkaProperties),
      strKey<std::string>("aws", "region", &Config::awsRegion),
      strKey<std::string>("aws", "endpoint", &Config::awsEndpoint),
      strKey<std::string>("aws", "bucket", &Config::awsBucket),
      strKey<std::string>("aws", "ledger_table", &Config::awsLedgerTable),
      strKey<std::string>("aws", "parking_table", &Config::awsParkingTable),
      strKey<std::string>("aws", "name_prefix", &Config::awsNamePrefix),
      strKey<std::string>("aws", "events_role_arn", &Config::awsEventsRoleArn),
      strKey<std::string>("aws", "service_endpoints", &Config::awsServiceEndpoints),
      choiceKey("aws", "s3_addressing", &Config::awsS3Addressing, kAddressing),
      intKey<int64_t>("api", "cache_entries", &Config::apiCacheEntries),
      intKey<int64_t>("api", "rate_per_client", &Config::apiRatePerClient),
      intKey<int64_t>("api", "rate_burst", &Config::apiRateBurst),
      strKey<std::string>("api", "rate_exempt_clients", &Config::apiRateExemptClients),
      intKey<int64_t>("api", "failed_auth_per_address", &Config::apiFailedAuthPerAddress),
      strKey<std::string>("api", "trusted_proxies", &Config::apiTrustedProxies),
      intKey<int64_t>("api", "idle_timeout_seconds", &Config::apiIdleTimeoutSeconds),
      intKey<int64_t>("api", "max_header_bytes", &Config::apiMaxHeaderBytes),
      strKey<std::string>("api", "open_endpoints", &Config::apiOpenEndpoints),
      strKey<std::string>("api", "tls_cert", &Config::apiTlsCert),
      strKey<std::string>("api", "tls_key", &Config::apiTlsKey),
      strKey<std::string>("auth", "jwks_url", &Config::authJwksUrl),
      strKey<std::string>("auth", "jwks_file", &Config::authJwksFile),
      strKey<std::string>("auth", "issuer", &Config::authIssuer),
      strKey<std::string>("auth", "audience", &Config::authAudience),
      strKey<std::string>("auth", "audience_claim", &Config::authAudienceClaim),
      strKey<std::string>("auth", "scope_prefix", &Config::authScopePrefix),
      strKey<std::string>("auth", "algorithms", &Config::authAlgorithms),
      intKey<int64_t>("auth", "skew_seconds", &Config::authSkewSeconds),
      strKey<std::string>("auth", "token_url", &Config::authTokenUrl),
      strKey<std::string>("auth", "client_id", &Config::authClientId),
      strKey<std::string>("auth", "client_secret", &Config::authClientSecret),
      strKey<std::string>("auth", "scopes", &Config::authScopes),
      strKey<std::string>("auth", "operator_client_id", &Config::authOperatorClientId),
      strKey<std::string>("auth", "operator_client_secret", &Config::authOperatorClientSecret),
      intKey<int64_t>("console", "enabled", &Config::consoleEnabled),
      intKey<int64_t>("console", "sample_ms", &Config::consoleSampleMs),
      strKey<std::string>("postgres", "conninfo", &Config::pgConninfo),
      strKey<std::string>("postgres", "password_secret", &Config::pgPasswordSecret),
      intKey<int64_t>("postgres", "pool_size", &Config::pgPoolSize),
      intKey<int64_t>("postgres", "migrate_on_start", &Config::pgMigrateOnStart),
      strKey<std::string>("source", "topic", &Config::topic),
      intKey<int32_t>("source", "partitions", &Config::partitions),
      strKey<std::string>("source", "consumer_group", &Config::consumerGroup),
      intKey<int64_t>("ingest", "max_batch", &Config::ingestMaxBatch),
      intKey<int64_t>("ingest", "poll_wait_ms", &Config::ingestPollWaitMs),
      intKey<int64_t>("ingest", "max_record_bytes", &Config::maxRecordBytes),
      strKey<std::string>("ingest", "kms_key_id", &Config::kmsKeyId),
      intKey<int64_t>("ingest", "ledger_ttl_hours", &Config::ledgerTtlHours),
      strKey<std::string>("api", "listen", &Config::apiListen),
      intKey<int64_t>("api", "port", &Config::apiPort),
      intKey<int64_t>("api", "threads", &Config::apiThreads),
      intKey<int64_t>("api", "max_body_bytes", &Config::apiMaxBodyBytes),
      strKey<std::string>("sync", "api_url", &Config::syncApiUrl),
      intKey<int64_t>("sync", "workers", &Config::syncWorkers),
      intKey<int64_t>("sync", "consumers", &Config::syncConsumers),
      intKey<int64_t>("sync", "batch_write_max", &Config::syncBatchWriteMax),
      intKey<int64_t>("sync", "max_batch", &Config::syncMaxBatch),
      intKey<int64_t>("sync", "visibility_ms", &Config::syncVisibilityMs),
      intKey<int64_t>("sync", "max_attempts", &Config::syncMaxAttempts),
      intKey<int64_t>("sync", "backoff_base_ms", &Config::syncBackoffBaseMs),
      intKey<int64_t>("sync", "backoff_cap_ms", &Config::syncBackoffCapMs),
      intKey<int64_t>("sync", "timeout_ms", &Config::syncTimeoutMs),
      strKey<std::string>("topic", "extra_subscriptions", &Config::topicExtraSubscriptions),
      strKey<std::string>("bus", "rules_file", &Config::rulesFile),
      intKey<int64_t>("bus", "visibility_ms", &Config::busVisibilityMs),
      intKey<int64_t>("bus", "delivery_concurrency", &Config::busDeliveryConcurrency),
      strKey<std::string>("lake", "writer", &Config::lakeWriter),
      intKey<int64_t>("lake", "visibility_ms", &Config::lakeVisibilityMs),
      intKey<int64_t>("lake", "flush_ms", &Config::lakeFlushMs),
      intKey<int64_t>("lake", "max_events", &Config::lakeMaxEvents),
      intKey<int64_t>("lambda", "deadline_margin_ms", &Config::lambdaDeadlineMarginMs),
      choiceKey("log", "level", &Config::logLevel, kLevels),
      intKey<int64_t>("run", "shutdown_timeout_ms", &Config::shutdownTimeoutMs),
  };
  return k;
}

std::string envName(const Key& k) {
  std::string n = std::string("MEMBERFLOW_") + k.section + "_" + k.name;
  for (char& c : n) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return n;
}

// Sets each key of the table on c; InvalidArgument on an unknown key, a wrong type or a value
// out of the setting's range.
Status applyToml(const toml::table& t, Config& c) {
  for (const auto& [section, node] : t) {
    const toml::table* st = node.as_table();
    if (!st)
      return Status::invalidArgument("config: [" + std::string(section.str()) + "] is not a table");
    for (const auto& [name, value] : *st) {
      const Key* k = nullptr;
      for (const auto& cand : keys()) {
        if (section.str() == cand.section && name.str() == cand.name) k = &cand;
      }
      if (!k) {
        return Status::invalidArgument("config: unknown key " + std::string(section.str()) + "." +
                                       std::string(name.str()));
      }
      if (const char* wrong = k->setToml(c, value)) {
        return Status::invalidArgument("config: " + std::string(section.str()) + "." +
                                       std::string(name.str()) + " " + wrong);
      }
    }
  }
  return Status::ok();
}

}  // namespace

std::string_view name(SourceAdapter v) { return nameIn(kSources, v); }
std::string_view name(ObjectStoreAdapter v) { return nameIn(kObjectStores, v); }
std::string_view name(LedgerAdapter v) { return nameIn(kLedgers, v); }
std::string_view name(QueueAdapter v) { return nameIn(kQueues, v); }
std::string_view name(MemberStoreAdapter v) { return nameIn(kMemberStores, v); }
std::string_view name(SecretsAdapter v) { return nameIn(kSecrets, v); }
std::string_view name(TopicAdapter v) { return nameIn(kTopics, v); }
std::string_view name(EventBusAdapter v) { return nameIn(kBuses, v); }
std::string_view name(Synchronous v) { return nameIn(kSynchronous, v); }
std::string_view name(S3Addressing v) { return nameIn(kAddressing, v); }

std::string Config::apiUrl() const {
  if (!syncApiUrl.empty()) return syncApiUrl;
  std::string host = apiListen == "0.0.0.0" ? "127.0.0.1" : apiListen;
  return "http://" + host + ":" + std::to_string(apiPort);
}

Result<Config> parseConfigToml(std::string_view text, const std::string& source) {
  Config c;
  toml::table t;
  try {
    t = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return Status::invalidArgument("config " + source + ": " + std::string(e.description()));
  }
  MF_RETURN_IF_ERROR(applyToml(t, c));
  return c;
}

Result<Config> loadConfig(const std::optional<std::string>& file) {
  Config c;
  if (file) {
    if (!std::filesystem::exists(*file)) return Status::invalidArgument("no config file " + *file);
    toml::table t;
    try {
      t = toml::parse_file(*file);
    } catch (const toml::parse_error& e) {
      return Status::invalidArgument("config " + *file + ": " + std::string(e.description()));
    }
    MF_RETURN_IF_ERROR(applyToml(t, c));
  }
  for (const auto& k : keys()) {
    std::string env = envName(k);
    if (const char* v = std::getenv(env.c_str())) {
      if (!k.setString(c, v)) {
        return Status::invalidArgument(
            env + (k.expected.empty() ? " is not a valid value" : " " + k.expected));
      }
    }
  }
  auto problems = checkConfig(c);
  if (!problems.empty()) return Status::invalidArgument("config: " + problems.front());
  return c;
}

std::vector<std::string> checkConfig(const Config& c) {
  std::vector<std::string> p;
  if (c.sourceAdapter == SourceAdapter::kKafka && c.kafkaBootstrapServers.empty()) {
    p.push_back("kafka.bootstrap_servers is required when adapters.source = kafka");
  }
  if (c.apiCacheEntries < 0) p.push_back("api.cache_entries must be 0 or more");
  if (c.apiRatePerClient < 0 || c.apiRateBurst < 0 || c.apiFailedAuthPerAddress < 0) {
    p.push_back(
        "api.rate_per_client, api.rate_burst and api.failed_auth_per_address must be 0 or more");
  }
  if (c.apiIdleTimeoutSeconds < 1 || c.apiIdleTimeoutSeconds > 3600)
    p.push_back("api.idle_timeout_seconds must be 1..3600");
  if (c.apiMaxHeaderBytes < 1024 || c.apiMaxHeaderBytes > (1 << 20))
    p.push_back("api.max_header_bytes must be 1024..1048576");
  for (const auto& e : splitList(c.apiOpenEndpoints)) {
    if (e != "healthz" && e != "readyz" && e != "metrics" && e != "openapi") {
      p.push_back("api.open_endpoints lists healthz, readyz, metrics or openapi, not " +
                  e.substr(0, 30));
    }
  }
  if (c.apiTlsCert.empty() != c.apiTlsKey.empty())
    p.push_back("api.tls_cert and api.tls_key go together");
  if (!c.authJwksUrl.empty() && !c.authJwksFile.empty())
    p.push_back("auth.jwks_url and auth.jwks_file exclude each other");
  if (c.externalIssuer() && (c.authIssuer.empty() || c.authAudience.empty())) {
    p.push_back(
        "auth.issuer and auth.audience are required with an external key set (tokens of other "
        "applications"
        " of the same issuer must not be accepted)");
  }
  if (!c.authJwksUrl.empty() && c.authJwksUrl.rfind("https://", 0) != 0 &&
      c.authJwksUrl.rfind("http://127.", 0) != 0 &&
      c.authJwksUrl.rfind("http://localhost", 0) != 0) {
    p.push_back("auth.jwks_url must be https (http only on loopback)");
  }
  if (c.authSkewSeconds < 0 || c.authSkewSeconds > 300)
    p.push_back("auth.skew_seconds must be 0..300");
  if (c.authAudienceClaim != "aud" && c.authAudienceClaim != "client_id")
    p.push_back("auth.audience_claim must be aud or client_id");
  if (c.consoleEnabled != 0 && c.consoleEnabled != 1) p.push_back("console.enabled must be 0 or 1");
  if (c.consoleSampleMs < 500 || c.consoleSampleMs > 60000)
    p.push_back("console.sample_ms must be 500..60000");
  if (c.authOperatorClientId == c.authClientId)
    p.push_back("auth.operator_client_id must differ from auth.client_id");
  if (c.authAlgorithms.find("none") != std::string::npos)
    p.push_back("auth.algorithms must not list none");
  if (c.pgPoolSize < 1 || c.pgPoolSize > 500) p.push_back("postgres.pool_size must be 1..500");
  if (c.shutdownTimeoutMs < 100 || c.shutdownTimeoutMs > 600000)
    p.push_back("run.shutdown_timeout_ms must be 100..600000");
  if (c.pgMigrateOnStart != 0 && c.pgMigrateOnStart != 1)
    p.push_back("postgres.migrate_on_start must be 0 or 1");
  if (c.memberStoreAdapter == MemberStoreAdapter::kPostgres) {
    auto parsed = postgres::conninfoHasPassword(c.pgConninfo);
    if (!parsed.isOk()) p.push_back("postgres.conninfo: " + parsed.status().message());
    if (parsed.isOk() && *parsed) {
      p.push_back(
          "postgres.conninfo must not hold a password: name it in postgres.password_secret");
    }
  }
  if ((c.topicAdapter == TopicAdapter::kSns) != (c.queueAdapter == QueueAdapter::kSqs)) {
    p.push_back(
        "adapters.topic = sns goes with adapters.queue = sqs (its subscriptions are SQS queues)");
  }
  if (c.eventBusAdapter == EventBusAdapter::kEventBridge && c.queueAdapter != QueueAdapter::kSqs) {
    p.push_back("adapters.event_bus = eventbridge goes with adapters.queue = sqs");
  }
  if (auto e = parseServiceEndpoints(c.awsServiceEndpoints); !e.isOk())
    p.push_back(e.status().message());
  if (c.partitions < 1 || c.partitions > 1024) p.push_back("source.partitions must be 1..1024");
  if (c.apiPort < 0 || c.apiPort > 65535) p.push_back("api.port must be 0..65535");
  if (c.apiThreads < 1 || c.apiThreads > 64) p.push_back("api.threads must be 1..64");
  if (c.ingestMaxBatch < 1) p.push_back("ingest.max_batch must be positive");
  if (c.maxRecordBytes < 1024) p.push_back("ingest.max_record_bytes must be at least 1024");
  if (c.syncWorkers < 1 || c.syncWorkers > 256) p.push_back("sync.workers must be 1..256");
  if (c.syncMaxBatch < 1) p.push_back("sync.max_batch must be positive");
  if (c.syncConsumers < 1 || c.syncConsumers > 64) p.push_back("sync.consumers must be 1..64");
  if (c.syncMaxAttempts < 1) p.push_back("sync.max_attempts must be positive");
  if (c.syncVisibilityMs < 1000) p.push_back("sync.visibility_ms must be at least 1000");
  if (c.lakeFlushMs < 10) p.push_back("lake.flush_ms must be at least 10");
  if (c.lakeMaxEvents < 1) p.push_back("lake.max_events must be positive");
  if (c.syncBatchWriteMax < 0 || c.syncBatchWriteMax > 500)
    p.push_back("sync.batch_write_max must be 0..500");
  if (c.lambdaDeadlineMarginMs < 0) p.push_back("lambda.deadline_margin_ms must be 0 or more");
  if (c.lakeVisibilityMs <= c.lakeFlushMs)
    p.push_back("lake.visibility_ms must exceed lake.flush_ms");
  if (c.busVisibilityMs < 1000) p.push_back("bus.visibility_ms must be at least 1000");
  if (c.busDeliveryConcurrency < 1 || c.busDeliveryConcurrency > 256)
    p.push_back("bus.delivery_concurrency must be 1..256");
  return p;
}

Result<std::map<std::string, std::string>> parseServiceEndpoints(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    std::string item =
        text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? text.size() : comma + 1;
    if (item.find_first_not_of(' ') == std::string::npos) continue;
    size_t eq = item.find('=');
    std::string service = eq == std::string::npos ? "" : item.substr(0, eq);
    std::string url = eq == std::string::npos ? "" : item.substr(eq + 1);
    auto trim = [](std::string& v) {
      v.erase(0, v.find_first_not_of(' '));
      v.erase(v.find_last_not_of(' ') + 1);
    };
    trim(service);
    trim(url);
    if (service.empty() || (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)) {
      return Status::invalidArgument(
          "aws.service_endpoints: expected service=http(s)://host[:port], comma-separated");
    }
    out[service] = url;
  }
  return out;
}

}  // namespace memberflow
