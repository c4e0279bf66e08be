// The AWS adapter family: one signed client (SigV4, credentials chain) shared by the S3, SQS,
// SNS, DynamoDB, EventBridge and Secrets Manager adapters.
#include "adapters/aws/dynamodb_ledger.h"
#include "adapters/aws/dynamodb_parking_store.h"
#include "adapters/aws/eventbridge_bus.h"
#include "adapters/aws/s3_object_store.h"
#include "adapters/aws/secrets_manager.h"
#include "adapters/aws/sns_topic.h"
#include "adapters/aws/sqs_queue.h"
#include "cli/wiring_families.h"

namespace memberflow::cli::wiring::aws_family {

aws::AwsClient& client(Families& f, const Config& cfg, Clock& clock) {
  if (!f.awsClient) {
    std::string sts = cfg.awsEndpoint.empty() ? "https://sts." + cfg.awsRegion + ".amazonaws.com"
                                              : cfg.awsEndpoint;
    f.awsCreds = aws::CredentialsChain::standard(f.awsHttp, sts, clock);
    aws::AwsConfig a{cfg.awsRegion, cfg.awsEndpoint, 10000, {200, 5000, 4}, {}};
    // checkConfig has validated aws.service_endpoints.
    if (auto e = parseServiceEndpoints(cfg.awsServiceEndpoints); e.isOk()) a.serviceEndpoints = *e;
    f.awsClient = std::make_unique<aws::AwsClient>(f.awsHttp, *f.awsCreds, clock, a);
  }
  return *f.awsClient;
}

Result<std::unique_ptr<ObjectStore>> objects(Families& f, const Config& cfg, Clock& clock) {
  aws::S3ObjectStore::Addressing addressing = aws::S3ObjectStore::Addressing::kAuto;
  switch (cfg.awsS3Addressing) {
    case S3Addressing::kAuto: addressing = aws::S3ObjectStore::Addressing::kAuto; break;
    case S3Addressing::kPath: addressing = aws::S3ObjectStore::Addressing::kPath; break;
    case S3Addressing::kVirtual: addressing = aws::S3ObjectStore::Addressing::kVirtualHosted; break;
  }
  auto s3 = std::make_unique<aws::S3ObjectStore>(client(f, cfg, clock), cfg.awsBucket, addressing);
  MF_RETURN_IF_ERROR(s3->ensureBucket());
  return std::unique_ptr<ObjectStore>(std::move(s3));
}

Result<std::unique_ptr<Ledger>> ledger(Families& f, const Config& cfg, Clock& clock) {
  auto d = std::make_unique<aws::DynamoDbLedger>(client(f, cfg, clock), cfg.awsLedgerTable,
                                                 cfg.ledgerTtlHours * 3600 * 1000, clock);
  MF_RETURN_IF_ERROR(d->ensureTable());
  return std::unique_ptr<Ledger>(std::move(d));
}

Result<std::unique_ptr<ParkingStore>> parking(Families& f, const Config& cfg, Clock& clock,
                                              bool create) {
  auto d = std::make_unique<aws::DynamoDbParkingStore>(client(f, cfg, clock), cfg.awsParkingTable,
                                                       clock);
  if (create) MF_RETURN_IF_ERROR(d->ensureTable());
  return std::unique_ptr<ParkingStore>(std::move(d));
}

Status createParkingTable(Families& f, const Config& cfg, Clock& clock) {
  return aws::DynamoDbParkingStore(client(f, cfg, clock), cfg.awsParkingTable, clock).ensureTable();
}

Result<std::unique_ptr<Queue>> queue(Families& f, const Config& cfg, Clock& clock,
                                     const std::string& name, const std::string& dlq,
                                     int maxReceives, bool fifo) {
  aws::AwsClient& c = client(f, cfg, clock);
  aws::SqsQueueOptions o;
  o.displayName = name;
  if (!dlq.empty()) {
    aws::SqsQueueOptions dopt;
    dopt.displayName = dlq;
    dopt.contentBasedDedup = true;
    auto d = aws::SqsQueue::open(c, cfg.awsNamePrefix + dlq + ".fifo", true, dopt);
    if (!d.isOk()) return d.status();
    auto arn = (*d)->arn();
    if (!arn.isOk()) return arn.status();
    o.deadLetterQueueArn = *arn;
    o.maxReceiveCount = maxReceives;
  }
  o.contentBasedDedup = fifo;  // EventBridge may deliver to it; explicit dedup ids still win
  o.fifo = fifo;
  auto q = aws::SqsQueue::open(c, cfg.awsNamePrefix + name + (fifo ? ".fifo" : ""), true, o);
  if (!q.isOk()) return q.status();
  f.sqsQueues[name] = q->get();
  return std::unique_ptr<Queue>(std::move(q).value());
}

Result<std::unique_ptr<Topic>> topic(Families& f, const Config& cfg, Clock& clock,
                                     const std::string& name,
                                     const std::vector<std::string>& subscriptions) {
  auto t = aws::SnsTopic::create(client(f, cfg, clock), cfg.awsNamePrefix + name + ".fifo");
  if (!t.isOk()) return t.status();
  for (const auto& sub : subscriptions) {
    auto q = f.sqsQueues.find(sub);
    if (q == f.sqsQueues.end())
      return Status::failedPrecondition("topic subscription " + sub + " is no opened SQS queue");
    auto arn = q->second->arn();
    if (!arn.isOk()) return arn.status();
    MF_RETURN_IF_ERROR((*t)->subscribeQueue(*arn));
  }
  return std::unique_ptr<Topic>(std::move(t).value());
}

std::unique_ptr<EventBus> bus(Families& f, const Config& cfg, Clock& clock,
                              const std::string& name) {
  return std::make_unique<aws::EventBridgeBus>(client(f, cfg, clock), name);
}

std::unique_ptr<Secrets> secrets(Families& f, const Config& cfg, Clock& clock) {
  return std::make_unique<aws::SecretsManager>(client(f, cfg, clock), clock);
}

Result<size_t> provision(Families& f, const Config& cfg, Clock& clock, const RoutingConfig& routing,
                         Secrets& secrets) {
  aws::AwsClient& c = client(f, cfg, clock);
  std::map<std::string, std::unique_ptr<aws::SqsQueue>> queues;
  aws::ProvisionOptions po;
  po.queueArn = [&](const std::string& name) -> Result<std::string> {
    auto it = queues.find(name);
    if (it == queues.end()) {
      aws::SqsQueueOptions o;
      o.fifo = name.size() > 5 && name.compare(name.size() - 5, 5, ".fifo") == 0;
      o.contentBasedDedup = o.fifo;  // EventBridge sends no dedup id
      auto q = aws::SqsQueue::open(c, name, true, o);
      if (!q.isOk()) return q.status();
      it = queues.emplace(name, std::move(q).value()).first;
    }
    return it->second->arn();
  };
  po.secret = [&](const std::string& name) { return secrets.get(name); };
  po.namePrefix = cfg.awsNamePrefix;
  po.eventsRoleArn = cfg.awsEventsRoleArn;
  MF_RETURN_IF_ERROR(aws::provisionEventBridge(c, routing, po));
  return queues.size();
}

}  // namespace memberflow::cli::wiring::aws_family
