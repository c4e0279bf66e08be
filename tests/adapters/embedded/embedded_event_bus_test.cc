// What the embedded bus adds to the EventBus contract: it deduplicates repeats itself (one
// delivery per event, rule and target), keeps a member's events in order on FIFO target
// queues, and refuses rules that do not compile.
#include "adapters/embedded/embedded_event_bus.h"

#include <gtest/gtest.h>

#include <map>

#include "support/test_support.h"

namespace memberflow {
namespace {

using testing::ManualClock;
using testing::TempDir;
namespace emb = memberflow::embedded;

const char* kRules = R"({"targets":[{"name":"audit","type":"queue","queue":"audit"}],
  "rules":[{"name":"all","bus":"members","targets":["audit"],"inputPath":"$.detail",
            "pattern":{"source":[{"prefix":"memberflow/"}]}}]})";

BusEntry entry(const std::string& id, const std::string& member) {
  return {id,
          "memberflow/member-api",
          "member.updated",
          R"({"id":")" + id + R"(","subject":")" + member + R"("})",
          "2026-11-24T13:29:16.853Z",
          member};
}

class EmbeddedEventBusTest : public ::testing::Test {
 protected:
  TempDir dir;
  ManualClock clock;
  std::shared_ptr<emb::SqliteQueueStore> queues =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  RoutingConfig cfg = *parseRoutingConfig(kRules);
  std::unique_ptr<emb::EmbeddedEventBus> bus =
      *emb::EmbeddedEventBus::create("members", cfg, queues);
  std::unique_ptr<Queue> target = queues->queue(emb::targetQueueName("audit"), {});
};

TEST_F(EmbeddedEventBusTest, ARepeatedEntryIsDeliveredOnce) {
  ASSERT_TRUE(bus->put({entry("e1", "M1"), entry("e2", "M1")}).isOk());
  auto again = bus->put({entry("e1", "M1")});
  ASSERT_TRUE(again.isOk());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_TRUE((*again)[0].isOk());
  auto got = target->peek(10);
  ASSERT_TRUE(got.isOk());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].attributes.at("eventId"), "e1");
  EXPECT_EQ((*got)[1].attributes.at("eventId"), "e2");
}

TEST_F(EmbeddedEventBusTest, AMembersDeliveriesAreOneFifoGroupInPutOrder) {
  ASSERT_TRUE(bus->put({entry("a1", "M1"), entry("b1", "M2"), entry("a2", "M1")}).isOk());
  std::map<std::string, std::vector<std::string>> byMember;
  for (const auto& m : *target->receive(10, 60000, 0))
    byMember[m.groupId].push_back(m.attributes.at("eventId"));
  EXPECT_EQ(byMember, (std::map<std::string, std::vector<std::string>>{{"M1", {"a1", "a2"}},
                                                                       {"M2", {"b1"}}}));
}

// Rules are matched on the fields they name; a target still gets the whole event.
TEST(EmbeddedEventBus, AMatchingRuleDeliversTheWholeDetail) {
  TempDir dir;
  ManualClock clock;
  auto queues = *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  RoutingConfig cfg =
      *parseRoutingConfig(R"({"targets":[{"name":"audit","type":"queue","queue":"audit"}],
    "rules":[{"name":"active","bus":"members","targets":["audit"],"inputPath":"$.detail",
              "pattern":{"detail":{"data":{"status":["active"]}}}}]})");
  auto bus = *emb::EmbeddedEventBus::create("members", cfg, queues);
  auto target = queues->queue(emb::targetQueueName("audit"), {});
  BusEntry active = entry("e1", "M1"), inactive = entry("e2", "M2");
  active.detail = R"({"id":"e1","data":{"status":"active","member":{"name":"Ann"}}})";
  inactive.detail = R"({"id":"e2","data":{"status":"inactive","member":{"name":"Bob"}}})";
  ASSERT_TRUE(bus->put({active, inactive}).isOk());
  auto got = *target->peek(10);
  ASSERT_EQ(got.size(), 1u);
  json::value delivery = json::parse(got[0].body);
  EXPECT_EQ(delivery.at("eventId").as_string(), "e1");
  EXPECT_EQ(delivery.at("payload"), json::parse(active.detail));
}

TEST(EmbeddedEventBus, ARuleThatDoesNotCompileIsInvalidArgument) {
  TempDir dir;
  ManualClock clock;
  auto queues = *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  RoutingConfig cfg = *parseRoutingConfig(kRules);
  cfg.rules[0].pattern = json::parse(R"({"source":[{"bogus":1}]})");
  auto bus = emb::EmbeddedEventBus::create("members", cfg, queues);
  EXPECT_EQ(bus.status().code(), Code::kInvalidArgument);
}

// The direct writer gives json::serialize's bytes, with and without a forwarded entry, for
// strings that need escaping.
TEST(EmbeddedEventBusDelivery, DeliveryJsonIsTheSerializedObject) {
  BusEntry e{"e\"1\n\x01\x7f\xc3\xa9",        "memberflow/member-api",    "member.updated",
             R"({"a":"x\u0001y","b":[1,2]})", "2026-11-24T13:29:16.853Z", "M\\1"};
  json::value payload = json::parse(R"({"k":"v\u00e9\n","n":null,"d":1.5})");
  std::string text = json::serialize(payload);
  json::object plain{
      {"eventId", e.eventId}, {"rule", "r/1"}, {"target", "crm"}, {"payload", payload}};
  EXPECT_EQ(emb::deliveryJson(e.eventId, "r/1", "crm", text, nullptr), json::serialize(plain));
  json::object forwarded = plain;
  forwarded["entry"] =
      json::object{{"eventId", e.eventId}, {"source", e.source}, {"detailType", e.detailType},
                   {"detail", e.detail},   {"time", e.time},     {"groupId", e.groupId}};
  EXPECT_EQ(emb::deliveryJson(e.eventId, "r/1", "crm", text, &e), json::serialize(forwarded));
}

}  // namespace
}  // namespace memberflow
