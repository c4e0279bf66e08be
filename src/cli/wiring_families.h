// File: wiring_families.h
// Internal to the composition root (wiring.cc): how each adapter family is built. One
// function per port and family; each family's definitions live in its own file
// (wiring_embedded.cc, wiring_kafka.cc, wiring_aws.cc, wiring_postgres.cc).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adapters/aws/aws_client.h"
#include "adapters/aws/credentials.h"
#include "adapters/aws/sqs_queue.h"
#include "adapters/embedded/source_log.h"
#include "adapters/embedded/sqlite.h"
#include "adapters/embedded/sqlite_queue.h"
#include "adapters/http/curl_http_client.h"
#include "cli/config.h"
#include "cli/wiring.h"
#include "domain/routing.h"
#include "ports/change_source.h"
#include "ports/clock.h"
#include "ports/delivery_log.h"
#include "ports/event_bus.h"
#include "ports/lake_journal.h"
#include "ports/ledger.h"
#include "ports/member_store.h"
#include "ports/object_store.h"
#include "ports/parking.h"
#include "ports/queue.h"
#include "ports/secrets.h"
#include "ports/topic.h"

namespace memberflow::cli::wiring {

// What the families share across the ports of one process.
struct Families {
  // Embedded: SQLite settings, the source log (consumer and producer at once), the queue
  // database (queues and the topic's fan-out).
  embedded::SqliteDb::Options db;
  std::unique_ptr<embedded::SourceLog> log;
  std::shared_ptr<embedded::SqliteQueueStore> queues;
  // The HTTP client of everything that is not AWS: sync's API calls and tokens, webhook
  // targets, the JWKS fetch. Thread-safe.
  http::CurlHttpClient http;
  // AWS: one HTTP client, credentials chain and client for every AWS adapter, opened on first
  // use; each SQS queue opened, by memberflow name (the topic subscribes them by ARN). Not
  // owned: the Wiring owns them as Queues.
  http::CurlHttpClient awsHttp;
  std::unique_ptr<aws::CredentialsChain> awsCreds;
  std::unique_ptr<aws::AwsClient> awsClient;
  std::map<std::string, aws::SqsQueue*> sqsQueues;
};

// ---- embedded (wiring_embedded.cc) --------------------------------------------------------
namespace embedded_family {
Result<std::unique_ptr<ObjectStore>> objects(const Config& cfg);
Status log(Families& f, const Config& cfg);  // opens f.log
Result<std::unique_ptr<Ledger>> ledger(Families& f, const Config& cfg);
Result<std::unique_ptr<ParkingStore>> parking(Families& f, const Config& cfg);
Status queueStore(Families& f, const Config& cfg, Clock& clock);  // opens f.queues
Result<std::unique_ptr<Queue>> queue(Families& f, const std::string& name, const std::string& dlq,
                                     int maxReceives);
std::unique_ptr<Topic> topic(Families& f, const std::string& name,
                             const std::vector<std::string>& subscriptions);
Result<std::unique_ptr<MemberStore>> members(Families& f, const Config& cfg);
Result<std::unique_ptr<EventBus>> bus(Families& f, const std::string& name,
                                      const RoutingConfig& routing);
Result<std::unique_ptr<LakeJournal>> lakeJournal(Families& f, const Config& cfg);
Result<std::unique_ptr<DeliveryLog>> deliveryLog(Families& f, const Config& cfg);
Result<std::unique_ptr<AuditLog>> auditLog(Families& f, const Config& cfg);
std::unique_ptr<Secrets> secrets(const Config& cfg);
// The sync client's secret, created at random (mode 0600) when the embedded store lacks it.
Result<std::string> createdClientSecret(Secrets& secrets, const Config& cfg,
                                        const std::string& name);
}  // namespace embedded_family

// ---- Kafka (wiring_kafka.cc) ----------------------------------------------------------------
namespace kafka_family {
// observe: a consumer that reads offsets only and never joins the group.
Result<std::unique_ptr<ChangeSource>> source(const Config& cfg, Secrets& secrets, bool observe);
Result<std::unique_ptr<ChangeSink>> sink(const Config& cfg, Secrets& secrets);
Result<std::unique_ptr<SourceReader>> reader(const Config& cfg, Secrets& secrets);
}  // namespace kafka_family

// ---- AWS (wiring_aws.cc) ----------------------------------------------------------------------
namespace aws_family {
aws::AwsClient& client(Families& f, const Config& cfg, Clock& clock);
Result<std::unique_ptr<ObjectStore>> objects(Families& f, const Config& cfg, Clock& clock);
Result<std::unique_ptr<Ledger>> ledger(Families& f, const Config& cfg, Clock& clock);
Result<std::unique_ptr<ParkingStore>> parking(Families& f, const Config& cfg, Clock& clock,
                                              bool create);
Status createParkingTable(Families& f, const Config& cfg, Clock& clock);
// A queue named aws.name_prefix + name (+ ".fifo"); with a DLQ when `dlq` is given. Recorded
// in f.sqsQueues.
Result<std::unique_ptr<Queue>> queue(Families& f, const Config& cfg, Clock& clock,
                                     const std::string& name, const std::string& dlq,
                                     int maxReceives, bool fifo);
// The SNS FIFO topic with the named queues (opened by queue() before) subscribed.
Result<std::unique_ptr<Topic>> topic(Families& f, const Config& cfg, Clock& clock,
                                     const std::string& name,
                                     const std::vector<std::string>& subscriptions);
std::unique_ptr<EventBus> bus(Families& f, const Config& cfg, Clock& clock,
                              const std::string& name);
std::unique_ptr<Secrets> secrets(Families& f, const Config& cfg, Clock& clock);
// `memberflow aws provision`: EventBridge buses, rules and targets from the rules file, and the
// SQS queues they deliver to. Returns how many queues it opened.
Result<size_t> provision(Families& f, const Config& cfg, Clock& clock, const RoutingConfig& routing,
                         Secrets& secrets);
}  // namespace aws_family

// ---- PostgreSQL (wiring_postgres.cc) ----------------------------------------------------------
namespace postgres_family {
// The store, its schema checked (migrated first when postgres.migrate_on_start is set).
Result<std::unique_ptr<MemberStore>> members(const Config& cfg, Secrets& secrets);
// `memberflow db migrate`.
Result<Migrated> migrate(const Config& cfg, Secrets& secrets);
// The console's audit log beside the member store. REQUIRES: members() checked the schema.
Result<std::unique_ptr<AuditLog>> auditLog(const Config& cfg, Secrets& secrets);
}  // namespace postgres_family

}  // namespace memberflow::cli::wiring
