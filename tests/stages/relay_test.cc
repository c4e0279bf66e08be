// The relay stage over the embedded adapters, with failures injected.
#include "stages/relay.h"

#include <gtest/gtest.h>

#include "adapters/embedded/sqlite_member_store.h"
#include "adapters/embedded/sqlite_queue.h"
#include "support/fault_injection.h"
#include "support/stage_loop.h"
#include "support/test_support.h"

namespace memberflow {
namespace {

using std::chrono::milliseconds;
using testing::FlakyTopic;
using testing::jitterDelays;
using testing::kStep;
using testing::LoopThread;
using testing::ManualClock;
using testing::TempDir;
namespace emb = memberflow::embedded;

// Applies a change of member `id` (last name L<i>): one outbox event.
Status writeMember(MemberStore& store, const std::string& id, int i) {
  StoreWrite w;
  w.memberId = id;
  Member m;
  m.memberId = id;
  m.name = {"Ada", std::nullopt, "L" + std::to_string(i), std::nullopt};
  m.birthDate = "1990-01-31";
  m.gender = Gender::kFemale;
  m.status = MemberStatus::kActive;
  w.content = [m](const StoredMember*) -> Result<Member> { return m; };
  w.lineage = json::object{};
  w.nowMs = i;
  return store.apply(w).status();
}

TEST(RelayTest, PublishesInCommitOrderAndDeletesOnlyAfterThePublish) {
  TempDir dir;
  ManualClock clock;
  auto store = *emb::SqliteMemberStore::open(dir.file("m.db"), {});
  auto queues = *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(writeMember(*store, "M1", i).isOk());
  emb::SqliteTopic topic(queues, "member-events", {"route", "lake"});
  RelayStage relay(*store, topic, clock, {});
  auto n = relay.pumpOnce();
  ASSERT_TRUE(n.isOk());
  EXPECT_EQ(*n, 3u);
  EXPECT_TRUE(store->outbox(10)->empty());
  for (const char* sub : {"route", "lake"}) {
    auto got = *queues->queue(sub, {})->peek(10);
    ASSERT_EQ(got.size(), 3u);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(json::parse(got[static_cast<size_t>(i)].body).at("data").at("version").as_int64(),
                i + 1);
    }
  }
  // Publishing the same events again (a crash before the delete) delivers nothing new.
  std::vector<OutgoingMessage> again;
  for (const auto& m : *queues->queue("lake", {})->peek(10))
    again.push_back({m.groupId, m.dedupId, m.body, {}});
  ASSERT_TRUE(topic.publish(again).isOk());
  EXPECT_EQ(queues->queue("lake", {})->peek(10)->size(), 3u);
}

// run() on its own thread with a ManualClock: the relay sleeps idleWait on it when the outbox
// is empty and backs off on it when the topic fails.
class RelayRunTest : public ::testing::Test {
 protected:
  TempDir dir;
  ManualClock clock;
  std::unique_ptr<emb::SqliteMemberStore> store =
      *emb::SqliteMemberStore::open(dir.file("m.db"), {});
  std::shared_ptr<emb::SqliteQueueStore> queues =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  emb::SqliteTopic topicReal{queues, "member-events", {"route", "lake"}};
  FlakyTopic topic{topicReal};
  RelayOptions opts = [] {
    RelayOptions o;
    o.backoff = {100, 5000, 0};
    o.jitterSeed = 11;
    return o;
  }();
  std::unique_ptr<RelayStage> relay;
  LoopThread loop;  // declared last: joined before the rest goes

  void start() {
    relay = std::make_unique<RelayStage>(*store, topic, clock, opts);
    loop.start([this](std::stop_token t) { relay->run(t); });
  }
};

TEST_F(RelayRunTest, IdlePollingSleepsIdleWaitAndNeverBacksOff) {
  start();
  for (size_t i = 1; i <= 5; ++i) {
    ASSERT_TRUE(clock.waitForSleepers(1, kStep)) << i;
    EXPECT_EQ(clock.sleeps().size(), i);  // one outbox read per sleep: no spinning
    clock.advance(opts.idleWait);
  }
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  EXPECT_EQ(clock.sleeps(), std::vector<milliseconds>(6, opts.idleWait));
  EXPECT_EQ(topic.publishes.calls(), 0);  // nothing to publish, nothing failed
  ASSERT_TRUE(loop.stop(kStep));
}

TEST_F(RelayRunTest, ATopicOutageBacksOffWithFullJitterThenEverythingIsPublished) {
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(writeMember(*store, "M" + std::to_string(i), i).isOk());
  topic.publishes.failNext(4);
  auto expected = jitterDelays(opts.backoff, opts.jitterSeed, 4);
  start();
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_GT(expected[i].count(), 0) << "choose a seed without zero delays";
    ASSERT_TRUE(clock.waitForSleepers(1, kStep)) << i;
    ASSERT_EQ(clock.sleeps().size(), i + 1);
    EXPECT_EQ(clock.sleeps()[i], expected[i]) << "failure " << i + 1;
    EXPECT_EQ(store->outbox(10)->size(), 3u);  // nothing deleted during the outage
    clock.advance(expected[i]);
  }
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));  // published, then idle
  EXPECT_EQ(clock.sleeps().back(), opts.idleWait);
  EXPECT_TRUE(store->outbox(10)->empty());
  EXPECT_EQ(topic.publishes.calls(), 5);
  for (const char* sub : {"route", "lake"}) EXPECT_EQ(queues->queue(sub, {})->peek(10)->size(), 3u);
  ASSERT_TRUE(loop.stop(kStep));
}

TEST_F(RelayRunTest, AStopDuringABackoffEndsRunAtOnce) {
  ASSERT_TRUE(writeMember(*store, "M1", 1).isOk());
  topic.publishes.failAlways();
  opts.backoff = {60000, 600000, 0};  // minutes of backoff, on a clock that never moves
  start();
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  int publishes = topic.publishes.calls();
  auto before = clock.monotonicNow();
  ASSERT_TRUE(loop.stop(kStep));
  EXPECT_EQ(clock.monotonicNow(), before);
  EXPECT_EQ(topic.publishes.calls(), publishes);
  EXPECT_EQ(store->outbox(10)->size(), 1u);
}

}  // namespace
}  // namespace memberflow
