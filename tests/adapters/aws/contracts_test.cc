// The port contract suites on the AWS adapters, against the moto server on loopback
// (scripts/test starts one with scripts/moto-server and exports MEMBERFLOW_TEST_AWS_ENDPOINT).
// Without it these tests fail, not skip — unless MEMBERFLOW_SKIP_AWS=1 says so explicitly.
// What one AWS adapter does beyond its port (EventBridge provisioning, S3 addressing, boto3
// interoperability) is here too: those tests share the server harness. The AWS tests that
// need no server are in aws_test (aws_client_test.cc, sigv4_test.cc, the parsers' tests).
#include "adapters/contracts.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "adapters/aws/aws_client.h"
#include "adapters/aws/dynamodb_ledger.h"
#include "adapters/aws/dynamodb_parking_store.h"
#include "adapters/aws/eventbridge_bus.h"
#include "adapters/aws/s3_object_store.h"
#include "adapters/aws/secrets_manager.h"
#include "adapters/aws/sns_topic.h"
#include "adapters/aws/sqs_queue.h"
#include "adapters/http/curl_http_client.h"
#include "domain/routing.h"

namespace memberflow::contracts {
namespace {

std::optional<std::string> endpoint() {
  if (const char* e = std::getenv("MEMBERFLOW_TEST_AWS_ENDPOINT"); e && *e) return std::string(e);
  return std::nullopt;
}

std::string unique(const char* prefix) {
  std::random_device rd;
  return std::string(prefix) + "-" + std::to_string(rd() % 100000000);
}

// moto checks no signatures; these static test credentials are signed like real ones.
struct StaticCredentials final : aws::CredentialsProvider {
  Result<aws::Credentials> get() override {
    return aws::Credentials{"AKIDTEST", "secret-test", ""};
  }
};

struct AwsHarnessBase {
  http::CurlHttpClient http;
  StaticCredentials creds;
  SystemClock clock;
  aws::AwsClient client{http, creds, clock,
                        aws::AwsConfig{"us-east-1", *endpoint(), 10000, {100, 2000, 4}, {}}};
};

struct S3Harness final : ObjectStoreHarness, AwsHarnessBase {
  aws::S3ObjectStore s3{client, unique("memberflow-test")};
  S3Harness() { EXPECT_TRUE(s3.ensureBucket().isOk()); }
  ObjectStore& store() override { return s3; }
};

class AwsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!endpoint() && !std::getenv("MEMBERFLOW_SKIP_AWS")) {
      FAIL() << "no AWS endpoint: run scripts/test, or scripts/moto-server start DIR and export "
                "MEMBERFLOW_TEST_AWS_ENDPOINT=url (MEMBERFLOW_SKIP_AWS=1 skips these tests)";
    }
  }
};
const auto* kEnv = ::testing::AddGlobalTestEnvironment(new AwsEnvironment);

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ChangeSourceContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MemberStoreContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LakeJournalContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(HttpClientContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(DeliveryLogContract);

struct DynamoHarness final : LedgerHarness, AwsHarnessBase {
  aws::DynamoDbLedger l{client, unique("memberflow-ledger"), 3600000};
  DynamoHarness() { EXPECT_TRUE(l.ensureTable().isOk()); }
  Ledger& ledger() override { return l; }
  int64_t ttlMs() const override { return 3600000; }
};
INSTANTIATE_TEST_SUITE_P(Moto, LedgerContract,
                         ::testing::Values([]() -> std::unique_ptr<LedgerHarness> {
                           if (!endpoint()) return nullptr;
                           return std::unique_ptr<LedgerHarness>(new DynamoHarness);
                         }),
                         [](const auto&) { return std::string("DynamoDB"); });

struct DynamoParkingHarness final : ParkingStoreHarness, AwsHarnessBase {
  aws::DynamoDbParkingStore s{client, unique("memberflow-parking"), clock};
  DynamoParkingHarness() { EXPECT_TRUE(s.ensureTable().isOk()); }
  ParkingStore& store() override { return s; }
};
INSTANTIATE_TEST_SUITE_P(Moto, ParkingStoreContract,
                         ::testing::Values([]() -> std::unique_ptr<ParkingStoreHarness> {
                           if (!endpoint()) return nullptr;
                           return std::unique_ptr<ParkingStoreHarness>(new DynamoParkingHarness);
                         }),
                         [](const auto&) { return std::string("DynamoDB"); });

struct SecretsManagerHarness final : SecretsHarness, AwsHarnessBase {
  aws::SecretsManager sm{client, clock};
  std::string prefix = unique("mf");
  Secrets& secrets() override { return sm; }
  void put(const std::string& name, const std::string& value) override {
    EXPECT_TRUE(sm.put(name, value).isOk());
  }
};
INSTANTIATE_TEST_SUITE_P(Moto, SecretsContract,
                         ::testing::Values([]() -> std::unique_ptr<SecretsHarness> {
                           if (!endpoint()) return nullptr;
                           return std::unique_ptr<SecretsHarness>(new SecretsManagerHarness);
                         }),
                         [](const auto&) { return std::string("SecretsManager"); });

struct SnsHarness final : TopicHarness, AwsHarnessBase {
  std::string prefix = unique("mf");
  std::unique_ptr<aws::SnsTopic> t;
  std::unique_ptr<aws::SqsQueue> subs[2];
  SnsHarness() {
    auto topic = aws::SnsTopic::create(client, prefix + "-member-events.fifo");
    EXPECT_TRUE(topic.isOk()) << topic.status().toString();
    t = std::move(topic).value();
    for (int i = 0; i < 2; ++i) {
      auto q = aws::SqsQueue::open(client, prefix + "-sub" + std::to_string(i) + ".fifo", true, {});
      EXPECT_TRUE(q.isOk()) << q.status().toString();
      subs[i] = std::move(q).value();
      EXPECT_TRUE(t->subscribeQueue(*subs[i]->arn()).isOk());
    }
  }
  Topic& topic() override { return *t; }
  Queue& subscription(int i) override { return *subs[i]; }
};
INSTANTIATE_TEST_SUITE_P(Moto, TopicContract,
                         ::testing::Values([]() -> std::unique_ptr<TopicHarness> {
                           if (!endpoint()) return nullptr;
                           return std::unique_ptr<TopicHarness>(new SnsHarness);
                         }),
                         [](const auto&) { return std::string("SNS"); });

// SQS queues of one test, by the contract's names. A real server's time cannot be moved, so
// advance() lets it pass: visibility timeouts are what these tests are about.
struct SqsHarness final : QueueHarness, AwsHarnessBase {
  std::string prefix = unique("mf");
  std::map<std::string, std::unique_ptr<aws::SqsQueue>> dlqs;
  std::unique_ptr<Queue> fifo(const std::string& name, const std::string& dlq,
                              int maxReceives) override {
    auto d = aws::SqsQueue::open(client, prefix + "-" + dlq + ".fifo", true, {});
    EXPECT_TRUE(d.isOk()) << d.status().toString();
    auto arn = (*d)->arn();
    dlqs[dlq] = std::move(d).value();
    aws::SqsQueueOptions o;
    o.deadLetterQueueArn = *arn;
    o.maxReceiveCount = maxReceives;
    auto q = aws::SqsQueue::open(client, prefix + "-" + name + ".fifo", true, o);
    EXPECT_TRUE(q.isOk()) << q.status().toString();
    return std::move(q).value();
  }
  std::unique_ptr<Queue> plain(const std::string& name) override {
    // The contract reads dead letters through plain(dlqName): the FIFO DLQ made above.
    auto q = aws::SqsQueue::open(client, prefix + "-" + name + ".fifo", true, {});
    EXPECT_TRUE(q.isOk()) << q.status().toString();
    return std::move(q).value();
  }
  void advance(int64_t ms) override {
    std::this_thread::sleep_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(ms));
  }
};
INSTANTIATE_TEST_SUITE_P(Moto, QueueContract,
                         ::testing::Values([]() -> std::unique_ptr<QueueHarness> {
                           if (!endpoint()) return nullptr;
                           return std::unique_ptr<QueueHarness>(new SqsHarness);
                         }),
                         [](const auto&) { return std::string("SQS"); });
INSTANTIATE_TEST_SUITE_P(Moto, ObjectStoreContract,
                         ::testing::Values([]() -> std::unique_ptr<ObjectStoreHarness> {
                           if (!endpoint()) return nullptr;
                           return std::unique_ptr<ObjectStoreHarness>(new S3Harness);
                         }),
                         [](const auto&) { return std::string("S3"); });

TEST(EventBridge, RulesFromTheRulesFileRouteEventsToAQueue) {
  if (!endpoint()) GTEST_SKIP() << "no endpoint";
  AwsHarnessBase h;
  std::string prefix = unique("mf");
  aws::SqsQueueOptions qo;
  qo.contentBasedDedup = true;
  auto q = aws::SqsQueue::open(h.client, prefix + "-audit.fifo", true, qo);
  ASSERT_TRUE(q.isOk()) << q.status().toString();
  std::string bus = prefix + "-members";
  auto cfg = parseRoutingConfig(
      R"({"targets":[{"name":"audit","type":"queue","queue":")" + prefix +
      R"(-audit.fifo"}],"rules":[{"name":")" + prefix + R"(-deletes","bus":")" + bus +
      R"(","targets":["audit"],"inputPath":"$.detail","pattern":{"detail-type":["member.deleted"],)"
      R"("source":[{"prefix":"memberflow/"}]}}]})");
  ASSERT_TRUE(cfg.isOk()) << cfg.status().toString();
  aws::ProvisionOptions po;
  po.queueArn = [&](const std::string&) { return (*q)->arn(); };
  ASSERT_TRUE(aws::provisionEventBridge(h.client, *cfg, po).isOk());
  aws::EventBridgeBus eb(h.client, bus);
  std::vector<BusEntry> entries;
  for (int i = 0; i < 12; ++i) {
    std::string type = i % 3 == 0 ? "member.deleted" : "member.updated";
    std::string detail =
        R"({"id":"e)" + std::to_string(i) + R"(","type":")" + type + R"(","data":{"member":null}})";
    entries.push_back({"e" + std::to_string(i), "memberflow/member-api", type, detail, "", "M1"});
  }
  auto res = eb.put(entries);
  ASSERT_TRUE(res.isOk()) << res.status().toString();
  for (const auto& s : *res) EXPECT_TRUE(s.isOk()) << s.toString();
  std::set<std::string> got;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got.size() < 4 && std::chrono::steady_clock::now() < until) {
    for (const auto& m : *(*q)->receive(10, 30000, 1000)) {
      // AWS applies InputPath ($.detail: the CloudEvent); moto delivers the whole envelope.
      json::value body = json::parse(m.body);
      const json::value& event = body.as_object().contains("detail") ? body.at("detail") : body;
      got.insert(std::string(event.at("id").as_string()));
    }
  }
  EXPECT_EQ(got, (std::set<std::string>{"e0", "e3", "e6", "e9"}));  // the deletes, nothing else
}

// The harness's bus provisioned from the contract's rules file, its target a standard SQS
// queue (EventBridge sends no dedup id; a FIFO target would need content-based dedup, which
// would hide repeats the contract wants to see handled by id).
struct EventBridgeHarness final : EventBusHarness, AwsHarnessBase {
  std::string prefix = unique("mf");
  std::unique_ptr<aws::SqsQueue> q;
  std::unique_ptr<aws::EventBridgeBus> b;
  RoutingConfig cfg;
  EventBridgeHarness() {
    aws::SqsQueueOptions qo;
    qo.fifo = false;
    auto queue = aws::SqsQueue::open(client, prefix + "-audit", true, qo);
    EXPECT_TRUE(queue.isOk()) << queue.status().toString();
    q = std::move(queue).value();
    auto parsed = parseRoutingConfig(eventBusRules(prefix + "-members", prefix + "-audit"));
    EXPECT_TRUE(parsed.isOk()) << parsed.status().toString();
    cfg = *parsed;
    aws::ProvisionOptions po;
    po.queueArn = [&](const std::string&) { return q->arn(); };
    Status s = aws::provisionEventBridge(client, cfg, po);
    EXPECT_TRUE(s.isOk()) << s.toString();
    b = std::make_unique<aws::EventBridgeBus>(client, prefix + "-members");
  }
  EventBus& bus() override { return *b; }
  std::vector<json::value> arrivals(size_t n) override {
    std::vector<json::value> out;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(n == 0 ? 2 : 20);
    while (out.size() < n && std::chrono::steady_clock::now() < until) {
      auto got = q->receive(10, 30000, 1000);
      if (!got.isOk()) continue;
      std::vector<std::string> receipts;
      for (const auto& m : *got) {
        // AWS applies InputPath ($.detail: the CloudEvent); moto delivers the whole envelope.
        json::value body = json::parse(m.body);
        out.push_back(body.as_object().contains("detail") ? body.at("detail") : body);
        receipts.push_back(m.receiptHandle);
      }
      (void)q->remove(receipts);
    }
    return out;
  }
};
INSTANTIATE_TEST_SUITE_P(Moto, EventBusContract,
                         ::testing::Values([]() -> std::unique_ptr<EventBusHarness> {
                           if (!endpoint()) return nullptr;
                           return std::unique_ptr<EventBusHarness>(new EventBridgeHarness);
                         }),
                         [](const auto&) { return std::string("EventBridge"); });

// Runs a boto3 snippet (the official AWS SDK) against the same endpoint; returns its stdout.
std::string boto3(const std::string& code) {
  std::string script =
      "import boto3,sys,json\nkw=dict(endpoint_url='" + *endpoint() +
      "',region_name='us-east-1',aws_access_key_id='a',aws_secret_access_key='b')\n"
      "s3=boto3.client('s3',**kw)\nsqs=boto3.client('sqs',**kw)\n"
      "ddb=boto3.client('dynamodb',**kw)\nsns=boto3.client('sns',**kw)\n" +
      code;
  std::string cmd = "python3 -c \"$MF_PY\"";
  setenv("MF_PY", script.c_str(), 1);
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  if (p) pclose(p);
  return out;
}

// `memberflow erase` rewrites objects; on a versioned bucket the replaced versions are deleted
// too, the current one stays. On an unversioned bucket there is nothing to delete.
TEST(S3Versions, PurgeOldVersionsKeepsOnlyTheCurrentOne) {
  if (!endpoint()) GTEST_SKIP() << "no AWS endpoint";
  S3Harness h;
  ASSERT_TRUE(h.s3.put("raw/k", "v1 secret", {}).isOk());
  EXPECT_EQ(*h.s3.purgeOldVersions("raw/k"), 0);  // unversioned
  // With the SDK (it sends the Content-MD5 this request needs).
  boto3("s3.put_bucket_versioning(Bucket='" + h.s3.bucket() +
        "',VersioningConfiguration={'Status':'Enabled'})");
  ASSERT_TRUE(h.s3.put("raw/k", "v2 secret", {}).isOk());
  ASSERT_TRUE(h.s3.put("raw/k", "v3 redacted", {}).isOk());
  ASSERT_TRUE(h.s3.put("raw/k2", "other", {}).isOk());
  ASSERT_TRUE(h.s3.put("raw/k2", "other again", {}).isOk());
  auto n = h.s3.purgeOldVersions("raw/k");
  ASSERT_TRUE(n.isOk()) << n.status().toString();
  EXPECT_EQ(*n, 2);  // v2, and v1 (written before versioning: version "null")
  EXPECT_EQ(*h.s3.get("raw/k"), "v3 redacted");
  EXPECT_EQ(*h.s3.purgeOldVersions("raw/k"), 0);
  EXPECT_EQ(*h.s3.purgeOldVersions("raw/k2"), 1);  // its own, not raw/k's
}

// Where requests go: per-service endpoint overrides before the common one; S3 addressing
// virtual-hosted on AWS, path-style when the endpoint is overridden, or as configured.
TEST(AwsEndpoints, PerServiceOverridesAndS3Addressing) {
  struct Recorder final : HttpClient {
    std::vector<std::string> urls;
    HttpResult send(const HttpRequest& r) override {
      urls.push_back(r.url);
      HttpResult out;
      out.response.status = 200;
      return out;
    }
  } rec;
  StaticCredentials creds;
  SystemClock clock;
  aws::AwsClient onAws{rec, creds, clock, aws::AwsConfig{"eu-west-1", "", 1000, {1, 1, 1}, {}}};
  ASSERT_TRUE(aws::S3ObjectStore(onAws, "bkt").put("a b/c", "x", {}).isOk());
  aws::AwsClient mixed{rec, creds, clock,
                       aws::AwsConfig{"us-east-1",
                                      "http://127.0.0.1:5000",
                                      1000,
                                      {1, 1, 1},
                                      {{"s3", "http://minio.local:9000"}}}};
  ASSERT_TRUE(aws::S3ObjectStore(mixed, "bkt").put("k", "x", {}).isOk());
  ASSERT_TRUE(aws::S3ObjectStore(mixed, "bkt", aws::S3ObjectStore::Addressing::kVirtualHosted)
                  .put("k", "x", {})
                  .isOk());
  EXPECT_EQ(rec.urls, (std::vector<std::string>{"https://bkt.s3.eu-west-1.amazonaws.com/a%20b/c",
                                                "http://minio.local:9000/bkt/k",
                                                "http://bkt.minio.local:9000/k"}));
  EXPECT_EQ(mixed.endpointFor("sqs"), "http://127.0.0.1:5000");
}

// Virtual-hosted addressing against moto: curl resolves *.localhost to loopback, and moto takes
// the bucket from the Host header.
TEST(S3, VirtualHostedAddressingWorksAgainstTheServer) {
  if (!endpoint()) GTEST_SKIP() << "no endpoint";
  std::string ep = *endpoint();
  std::string local = "http://localhost:" + ep.substr(ep.rfind(':') + 1);
  http::CurlHttpClient http;
  StaticCredentials creds;
  SystemClock clock;
  aws::AwsClient client{http, creds, clock,
                        aws::AwsConfig{"us-east-1", local, 10000, {100, 2000, 4}, {}}};
  std::string bucket = unique("memberflow-vhost");
  aws::S3ObjectStore s3{client, bucket, aws::S3ObjectStore::Addressing::kVirtualHosted};
  ASSERT_TRUE(s3.ensureBucket().isOk());
  ASSERT_TRUE(s3.put("dir/one", "1", {}).isOk());
  EXPECT_EQ(*s3.get("dir/one"), "1");
  EXPECT_EQ(*s3.list("dir/"), std::vector<std::string>{"dir/one"});
  std::string seen =
      boto3("print(s3.get_object(Bucket='" + bucket + "',Key='dir/one')['Body'].read().decode())");
  EXPECT_EQ(seen, "1\n");
}

TEST(S3, InteroperatesWithBoto3BothWays) {
  if (!endpoint()) GTEST_SKIP() << "no endpoint";
  S3Harness h;
  PutOptions o{"application/x-ndjson", "gzip", std::string("alias/memberflow")};
  ASSERT_TRUE(h.s3.put("raw/t/dt=2026-11-24/p=0/1-2.ndjson.gz", "hello from memberflow", o).isOk());
  // boto3 reads what memberflow wrote, with its encryption settings.
  std::string seen = boto3(
      "b=[x['Name'] for x in s3.list_buckets()['Buckets'] if "
      "x['Name'].startswith('memberflow-test')]\n"
      "for n in b:\n"
      "  try:\n"
      "    r=s3.get_object(Bucket=n,Key='raw/t/dt=2026-11-24/p=0/1-2.ndjson.gz')\n"
      "    print(r['Body'].read().decode(), r.get('ServerSideEncryption'), r.get('SSEKMSKeyId'), "
      "r['ContentEncoding'])\n"
      "    s3.put_object(Bucket=n,Key='from/boto3.txt',Body=b'hello from boto3')\n"
      "  except s3.exceptions.NoSuchKey: pass\n");
  EXPECT_NE(seen.find("hello from memberflow aws:kms alias/memberflow gzip"), std::string::npos)
      << seen;
  // memberflow reads what boto3 wrote.
  EXPECT_EQ(*h.s3.get("from/boto3.txt"), "hello from boto3");
  EXPECT_EQ(h.s3.get("missing").status().code(), Code::kNotFound);
}

TEST(Sqs, InteroperatesWithBoto3BothWays) {
  if (!endpoint()) GTEST_SKIP() << "no endpoint";
  AwsHarnessBase h;
  std::string name = unique("mf-interop") + ".fifo";
  auto q = aws::SqsQueue::open(h.client, name, true, {});
  ASSERT_TRUE(q.isOk()) << q.status().toString();
  ASSERT_TRUE((*q)->send({{"M1", "d1", "from memberflow", {{"reason", "test"}}}}).isOk());
  std::string seen = boto3("u=sqs.get_queue_url(QueueName='" + name +
                           "')['QueueUrl']\n"
                           "m=sqs.receive_message(QueueUrl=u,MessageAttributeNames=['All'],"
                           "MessageSystemAttributeNames=['All'])['Messages'][0]\n"
                           "print(m['Body'],m['Attributes']['MessageGroupId'],m['MessageAttributes'"
                           "]['reason']['StringValue'])\n"
                           "sqs.delete_message(QueueUrl=u,ReceiptHandle=m['ReceiptHandle'])\n"
                           "sqs.send_message(QueueUrl=u,MessageBody='from "
                           "boto3',MessageGroupId='M2',MessageDeduplicationId='d2')\n");
  EXPECT_NE(seen.find("from memberflow M1 test"), std::string::npos) << seen;
  auto got = (*q)->receive(10, 30000, 1000);
  ASSERT_TRUE(got.isOk());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].body, "from boto3");
  EXPECT_EQ((*got)[0].groupId, "M2");
}

// A standard queue keeps no dedup ids, so a retried send can leave two copies; the id travels
// as an attribute so that readers can tell the copies apart from distinct messages.
TEST(Sqs, StandardQueueCarriesTheDedupIdForReaders) {
  if (!endpoint()) GTEST_SKIP() << "no endpoint";
  AwsHarnessBase h;
  aws::SqsQueueOptions o;
  o.fifo = false;
  auto q = aws::SqsQueue::open(h.client, unique("mf-standard"), true, o);
  ASSERT_TRUE(q.isOk()) << q.status().toString();
  ASSERT_TRUE((*q)->send({{"M1", "msg-1", "x", {{"reason", "r"}}}}).isOk());
  ASSERT_TRUE((*q)->send({{"M1", "msg-1", "x", {{"reason", "r"}}}}).isOk());  // the retry
  auto got = (*q)->receive(10, 30000, 1000);
  ASSERT_TRUE(got.isOk());
  ASSERT_EQ(got->size(), 2u);
  for (const auto& m : *got) {
    EXPECT_EQ(m.dedupId, "msg-1");
    EXPECT_EQ(m.attributes, (std::map<std::string, std::string>{{"reason", "r"}}));
  }
}

TEST(DynamoDb, LedgerItemsInteroperateWithBoto3) {
  if (!endpoint()) GTEST_SKIP() << "no endpoint";
  AwsHarnessBase h;
  std::string table = unique("mf-ledger-interop");
  aws::DynamoDbLedger l(h.client, table, 3600000);
  ASSERT_TRUE(l.ensureTable().isOk());
  ASSERT_TRUE(l.claim({"core:1"}, 1767225600000).isOk());
  ASSERT_TRUE(
      l.complete({{"core:1", MessageOutcome::kEnqueued, "", "raw/k", 7}}, 1767225600005).isOk());
  std::string seen =
      boto3("i=ddb.get_item(TableName='" + table +
            "',Key={'messageId':{'S':'core:1'}},ConsistentRead=True)['Item']\n"
            "print(i['outcome']['S'],i['archiveLine']['N'],i['expiresAt']['N'])\n"
            "ddb.put_item(TableName='" +
            table +
            "',Item={'messageId':{'S':'core:2'},'claimedAt':{'N':'1'},"
            "'completedAt':{'N':'2'},'outcome':{'S':'rejected'},'reason':{'S':'invalid_email'},"
            "'expiresAt':{'N':'9999999999'}})\n");
  EXPECT_NE(seen.find("enqueued 7 1767229200"), std::string::npos) << seen;
  auto e = l.get("core:2");
  ASSERT_TRUE(e.isOk()) << e.status().toString();
  EXPECT_EQ(e->outcome.reason, "invalid_email");
  EXPECT_EQ(*l.claim({"core:2"}, 1767225600000), std::vector<ClaimState>{ClaimState::kDone});
}

TEST(Sns, BotoPublishesReachMemberflowsSubscriptionAndBack) {
  if (!endpoint()) GTEST_SKIP() << "no endpoint";
  SnsHarness h;
  ASSERT_TRUE(h.t->publish({{"M1", "e1", "{\"id\":\"e1\"}", {}}}).isOk());
  std::string seen =
      boto3("sns.publish(TopicArn='" + h.t->arn() +
            "',Message='{\"id\":\"e2\"}',"
            "MessageGroupId='M2',MessageDeduplicationId='e2')\nprint('published')\n");
  EXPECT_NE(seen.find("published"), std::string::npos);
  for (int s = 0; s < 2; ++s) {
    std::set<std::string> bodies;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (bodies.size() < 2 && std::chrono::steady_clock::now() < until) {
      for (const auto& m : *h.subs[s]->receive(10, 30000, 1000)) bodies.insert(m.body);
    }
    EXPECT_EQ(bodies, (std::set<std::string>{"{\"id\":\"e1\"}", "{\"id\":\"e2\"}"}));
  }
}

}  // namespace
}  // namespace memberflow::contracts
