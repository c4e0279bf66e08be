// The ChangeSource contract suite on the Kafka adapters, against a real Apache Kafka broker
// (KRaft) on loopback: scripts/test starts one with scripts/kafka-server and exports
// MEMBERFLOW_TEST_KAFKA=host:port. Without a broker these tests fail, not skip — unless
// MEMBERFLOW_SKIP_KAFKA=1 says so explicitly.
#include "adapters/contracts.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "adapters/kafka/kafka_source.h"

namespace memberflow::contracts {
namespace {

std::optional<std::string> broker() {
  if (const char* b = std::getenv("MEMBERFLOW_TEST_KAFKA"); b && *b) return std::string(b);
  return std::nullopt;
}

std::string unique(const char* prefix) {
  std::random_device rd;
  return std::string(prefix) + "-" + std::to_string(rd()) + std::to_string(rd());
}

struct KafkaHarness final : ChangeSourceHarness {
  kafka::KafkaOptions base;
  std::unique_ptr<kafka::KafkaChangeSink> producer;
  KafkaHarness() {
    base.bootstrapServers = *broker();
    base.topic = unique("contract");
    auto p = kafka::KafkaChangeSink::open(base);
    EXPECT_TRUE(p.isOk()) << p.status().toString();
    producer = std::move(p).value();
  }
  ChangeSink& sink() override { return *producer; }
  std::unique_ptr<ChangeSource> consumer(const std::string& group) override {
    auto o = base;
    o.group = base.topic + "-" + group;
    auto c = kafka::KafkaChangeSource::open(o);
    EXPECT_TRUE(c.isOk()) << c.status().toString();
    return std::move(c).value();
  }
  std::unique_ptr<SourceReader> reader(const std::string& group) override {
    auto o = base;
    o.group = base.topic + "-" + group;
    auto r = kafka::KafkaSourceReader::open(o);
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    return std::move(r).value();
  }
};

class KafkaEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!broker() && !std::getenv("MEMBERFLOW_SKIP_KAFKA")) {
      FAIL() << "no Kafka broker: run scripts/test, or scripts/kafka-server start DIR and export "
                "MEMBERFLOW_TEST_KAFKA=host:port (MEMBERFLOW_SKIP_KAFKA=1 skips these tests)";
    }
  }
};
const auto* kEnv = ::testing::AddGlobalTestEnvironment(new KafkaEnvironment);

// Kafka implements only the change source and sink ports.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(QueueContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LedgerContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ObjectStoreContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MemberStoreContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SecretsContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TopicContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(EventBusContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LakeJournalContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(HttpClientContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(DeliveryLogContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParkingStoreContract);

INSTANTIATE_TEST_SUITE_P(Kafka, ChangeSourceContract,
                         ::testing::Values([]() -> std::unique_ptr<ChangeSourceHarness> {
                           if (!broker()) return nullptr;
                           return std::unique_ptr<ChangeSourceHarness>(new KafkaHarness);
                         }),
                         [](const auto&) { return std::string("Broker"); });

TEST(KafkaSource, CommitOfARevokedPartitionIsRefused) {
  if (!broker()) GTEST_SKIP() << "no broker";
  kafka::KafkaOptions o;
  o.bootstrapServers = *broker();
  o.topic = unique("revoke");
  o.group = o.topic + "-g";
  auto sink = *kafka::KafkaChangeSink::open(o);
  ASSERT_TRUE(sink->append({{"k", "v", {}, 0, {}}}).isOk());
  auto c = *kafka::KafkaChangeSource::open(o);
  // Partition 99 is not ours: a batch from a partition that was revoked must not commit.
  EXPECT_EQ(c->commit({{99, 1}}).code(), Code::kFailedPrecondition);
  std::vector<SourceRecord> got;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got.empty() && std::chrono::steady_clock::now() < until)
    got = *c->poll(10, std::chrono::milliseconds(200));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(c->commit({{got[0].partition, got[0].offset + 1}}).isOk());
  auto p = c->progress();
  ASSERT_TRUE(p.isOk()) << p.status().toString();
  EXPECT_EQ(p->end, 1);
  EXPECT_EQ(p->lag(), 0);
}

}  // namespace
}  // namespace memberflow::contracts
