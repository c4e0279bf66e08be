// The port contract suites on the embedded adapters (SQLite and files). What only one embedded
// adapter promises is tested beside it: sqlite_queue_test.cc, dir_object_store_test.cc, ...
#include "adapters/contracts.h"

#include <gtest/gtest.h>

#include <fstream>

#include "adapters/embedded/dir_object_store.h"
#include "adapters/embedded/embedded_event_bus.h"
#include "adapters/embedded/env_secrets.h"
#include "adapters/embedded/source_log.h"
#include "adapters/embedded/sqlite_delivery_log.h"
#include "adapters/embedded/sqlite_lake_journal.h"
#include "adapters/embedded/sqlite_ledger.h"
#include "adapters/embedded/sqlite_member_store.h"
#include "adapters/embedded/sqlite_parking_store.h"
#include "adapters/embedded/sqlite_queue.h"
#include "domain/routing.h"
#include "support/test_support.h"

namespace memberflow::contracts {
namespace {

using testing::ManualClock;
using testing::TempDir;
namespace emb = memberflow::embedded;

struct EmbeddedQueues final : QueueHarness {
  TempDir dir;
  ManualClock clock;
  std::shared_ptr<emb::SqliteQueueStore> store =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  std::unique_ptr<Queue> fifo(const std::string& name, const std::string& dlq, int max) override {
    emb::QueueOptions o;
    o.redrive = emb::RedrivePolicy{dlq, max};
    return store->queue(name, o);
  }
  std::unique_ptr<Queue> plain(const std::string& name) override {
    emb::QueueOptions o;
    o.fifo = false;
    return store->queue(name, o);
  }
  void advance(int64_t ms) override { clock.advance(ms); }
};
INSTANTIATE_TEST_SUITE_P(Embedded, QueueContract, ::testing::Values([] {
                           return std::unique_ptr<QueueHarness>(new EmbeddedQueues);
                         }),
                         [](const auto&) { return std::string("SQLite"); });

struct EmbeddedLedger final : LedgerHarness {
  TempDir dir;
  std::unique_ptr<emb::SqliteLedger> l = *emb::SqliteLedger::open(dir.file("l.db"), 3600000);
  Ledger& ledger() override { return *l; }
  int64_t ttlMs() const override { return 3600000; }
};
INSTANTIATE_TEST_SUITE_P(Embedded, LedgerContract, ::testing::Values([] {
                           return std::unique_ptr<LedgerHarness>(new EmbeddedLedger);
                         }),
                         [](const auto&) { return std::string("SQLite"); });

struct EmbeddedObjects final : ObjectStoreHarness {
  TempDir dir;
  emb::DirObjectStore s{dir.path()};
  ObjectStore& store() override { return s; }
};
INSTANTIATE_TEST_SUITE_P(Embedded, ObjectStoreContract, ::testing::Values([] {
                           return std::unique_ptr<ObjectStoreHarness>(new EmbeddedObjects);
                         }),
                         [](const auto&) { return std::string("SQLite"); });

struct EmbeddedSource final : ChangeSourceHarness {
  TempDir dir;
  std::unique_ptr<emb::SourceLog> producer =
      *emb::SourceLog::open(dir.file("s.db"), "t", 4, "producer");
  ChangeSink& sink() override { return *producer; }
  std::unique_ptr<ChangeSource> consumer(const std::string& group) override {
    return *emb::SourceLog::open(dir.file("s.db"), "t", 4, group);
  }
  std::unique_ptr<SourceReader> reader(const std::string& group) override {
    return *emb::SourceLog::open(dir.file("s.db"), "t", 4, group);
  }
};
INSTANTIATE_TEST_SUITE_P(Embedded, ChangeSourceContract, ::testing::Values([] {
                           return std::unique_ptr<ChangeSourceHarness>(new EmbeddedSource);
                         }),
                         [](const auto&) { return std::string("SQLite"); });

struct EmbeddedMembers final : MemberStoreHarness {
  TempDir dir;
  std::unique_ptr<emb::SqliteMemberStore> s = *emb::SqliteMemberStore::open(dir.file("m.db"), {});
  MemberStore& store() override { return *s; }
};
INSTANTIATE_TEST_SUITE_P(Embedded, MemberStoreContract, ::testing::Values([] {
                           return std::unique_ptr<MemberStoreHarness>(new EmbeddedMembers);
                         }),
                         [](const auto&) { return std::string("SQLite"); });

struct EmbeddedSecrets final : SecretsHarness {
  TempDir dir;
  emb::EnvSecrets s{dir.path()};
  Secrets& secrets() override { return s; }
  void put(const std::string& name, const std::string& value) override {
    std::ofstream(dir.file(name), std::ios::binary) << value;
  }
};
INSTANTIATE_TEST_SUITE_P(Embedded, SecretsContract, ::testing::Values([] {
                           return std::unique_ptr<SecretsHarness>(new EmbeddedSecrets);
                         }),
                         [](const auto&) { return std::string("SQLite"); });

struct EmbeddedTopic final : TopicHarness {
  TempDir dir;
  ManualClock clock;
  std::shared_ptr<emb::SqliteQueueStore> store =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  emb::SqliteTopic t{store, "member-events", {"route", "lake"}};
  std::unique_ptr<Queue> subs[2] = {store->queue("route", {}), store->queue("lake", {})};
  Topic& topic() override { return t; }
  Queue& subscription(int i) override { return *subs[i]; }
};
INSTANTIATE_TEST_SUITE_P(Embedded, TopicContract, ::testing::Values([] {
                           return std::unique_ptr<TopicHarness>(new EmbeddedTopic);
                         }),
                         [](const auto&) { return std::string("SQLite"); });

// The target queue of the embedded bus is "target-audit" in the bus's queue store; each
// message is a delivery whose payload is the rule's input (the CloudEvent).
struct EmbeddedBus final : EventBusHarness {
  TempDir dir;
  ManualClock clock;
  std::shared_ptr<emb::SqliteQueueStore> queues =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  RoutingConfig cfg = *parseRoutingConfig(eventBusRules("members", "audit"));  // outlives the bus
  std::unique_ptr<emb::EmbeddedEventBus> b = *emb::EmbeddedEventBus::create("members", cfg, queues);
  std::unique_ptr<Queue> target = queues->queue(emb::targetQueueName("audit"), {});
  EventBus& bus() override { return *b; }
  std::vector<json::value> arrivals(size_t) override {
    std::vector<json::value> out;
    for (;;) {
      auto got = target->receive(10, 60000, 0);
      if (!got.isOk() || got->empty()) return out;
      std::vector<std::string> receipts;
      for (const auto& m : *got) {
        out.push_back(json::parse(m.body).at("payload"));
        receipts.push_back(m.receiptHandle);
      }
      EXPECT_TRUE(target->remove(receipts).isOk());
    }
  }
};
INSTANTIATE_TEST_SUITE_P(Embedded, EventBusContract, ::testing::Values([] {
                           return std::unique_ptr<EventBusHarness>(new EmbeddedBus);
                         }),
                         [](const auto&) { return std::string("SQLite"); });

struct EmbeddedLakeJournal final : LakeJournalHarness {
  TempDir dir;
  std::unique_ptr<emb::SqliteLakeJournal> j = *emb::SqliteLakeJournal::open(dir.file("lake.db"));
  LakeJournal& journal() override { return *j; }
  LakeJournal& restart() override {
    j.reset();
    j = *emb::SqliteLakeJournal::open(dir.file("lake.db"));
    return *j;
  }
};
INSTANTIATE_TEST_SUITE_P(Embedded, LakeJournalContract, ::testing::Values([] {
                           return std::unique_ptr<LakeJournalHarness>(new EmbeddedLakeJournal);
                         }),
                         [](const auto&) { return std::string("SQLite"); });

struct EmbeddedDeliveryLog final : DeliveryLogHarness {
  TempDir dir;
  std::unique_ptr<emb::SqliteDeliveryLog> l =
      *emb::SqliteDeliveryLog::open(dir.file("deliveries.db"));
  DeliveryLog& log() override { return *l; }
  DeliveryLog& restart() override {
    l.reset();
    l = *emb::SqliteDeliveryLog::open(dir.file("deliveries.db"));
    return *l;
  }
};
INSTANTIATE_TEST_SUITE_P(Embedded, DeliveryLogContract, ::testing::Values([] {
                           return std::unique_ptr<DeliveryLogHarness>(new EmbeddedDeliveryLog);
                         }),
                         [](const auto&) { return std::string("SQLite"); });

struct EmbeddedParkingStore final : ParkingStoreHarness {
  TempDir dir;
  std::unique_ptr<emb::SqliteParkingStore> s =
      *emb::SqliteParkingStore::open(dir.file("parking.db"));
  ParkingStore& store() override { return *s; }
};
INSTANTIATE_TEST_SUITE_P(Embedded, ParkingStoreContract, ::testing::Values([] {
                           return std::unique_ptr<ParkingStoreHarness>(new EmbeddedParkingStore);
                         }),
                         [](const auto&) { return std::string("SQLite"); });

// The HttpClient contract runs in http_adapters_test (adapters/http/contracts_test.cc).
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(HttpClientContract);

}  // namespace
}  // namespace memberflow::contracts
