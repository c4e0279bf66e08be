// The lake stage over the embedded adapters, with failures injected.
#include "stages/lake.h"

#include <gtest/gtest.h>

#include "adapters/embedded/dir_object_store.h"
#include "adapters/embedded/sqlite_lake_journal.h"
#include "adapters/embedded/sqlite_queue.h"
#include "common/gzip.h"
#include "support/fault_injection.h"
#include "support/stage_loop.h"
#include "support/test_support.h"

namespace memberflow {
namespace {

using std::chrono::milliseconds;
using testing::FlakyQueue;
using testing::FlakyStore;
using testing::jitterDelays;
using testing::kStep;
using testing::LoopThread;
using testing::ManualClock;
using testing::runClockUntil;
using testing::TempDir;
namespace emb = memberflow::embedded;

std::string event(const std::string& id, const std::string& member, int version) {
  return R"({"specversion":"1.0","id":")" + id +
         R"(","source":"memberflow/member-api","type":"member.updated","subject":")" + member +
         R"(","time":"2026-11-24T13:29:16.853Z","data":{"version":)" + std::to_string(version) +
         "}}";
}

class LakeTest : public ::testing::Test {
 protected:
  TempDir dir;
  ManualClock clock;
  std::shared_ptr<emb::SqliteQueueStore> queues =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  std::unique_ptr<Queue> lakeQ = queues->queue("lake", {});
  std::unique_ptr<Queue> dlq = queues->queue("lake-dlq", {});
  emb::DirObjectStore objects{dir.file("objects")};
  FlakyStore flaky{objects};
  std::unique_ptr<emb::SqliteLakeJournal> journal =
      *emb::SqliteLakeJournal::open(dir.file("lake.db"));
  LakeStage lake{*lakeQ, *dlq, flaky, *journal, clock, {}};

  std::vector<std::string> lines() {
    std::vector<std::string> out;
    for (const auto& k : *objects.list("lake/")) {
      auto text = *gzipDecompress(*objects.get(k));
      for (size_t p = 0, n; (n = text.find('\n', p)) != std::string::npos; p = n + 1) {
        out.push_back(json::serialize(json::parse(text.substr(p, n - p)).at("id")));
      }
    }
    return out;
  }
};

// The stage keeps running after a failed write (an outage): the next flush writes what the
// failed one staged before it acknowledges the redelivered messages, whose events count as
// placed. (The AWS outage test found them waiting for a restart instead.)
TEST_F(LakeTest, AFailedWriteIsWrittenByTheNextFlushWithoutARestart) {
  ASSERT_TRUE(
      lakeQ->send({{"M1", "e1", event("e1", "M1", 1), {}}, {"M2", "e2", event("e2", "M2", 1), {}}})
          .isOk());
  flaky.puts.failNext(1);
  EXPECT_EQ(lake.flush(*lakeQ->receive(10, 1000, 0)).status().code(), Code::kUnavailable);
  EXPECT_TRUE(objects.list("lake/")->empty());
  clock.advance(2000);
  auto n = lake.flush(*lakeQ->receive(10, 1000, 0));
  ASSERT_TRUE(n.isOk()) << n.status().toString();
  EXPECT_EQ(lines(), (std::vector<std::string>{"\"e1\"", "\"e2\""}));
  EXPECT_EQ(lakeQ->stats()->visible + lakeQ->stats()->inFlight, 0);
}

TEST_F(LakeTest, AFailedWriteIsRecoveredAndRedeliveriesAreNotWrittenTwice) {
  ASSERT_TRUE(lakeQ
                  ->send({{"M1", "e1", event("e1", "M1", 1), {}},
                          {"M1", "e2", event("e2", "M1", 2), {}},
                          {"M2", "e3", event("e3", "M2", 1), {}},
                          {"M2", "junk", "not json", {}}})
                  .isOk());
  auto batch = *lakeQ->receive(10, 1000, 0);
  flaky.puts.failNext(1);
  EXPECT_EQ(lake.flush(batch).status().code(), Code::kUnavailable);  // staged, not written
  EXPECT_TRUE(objects.list("lake/")->empty());
  ASSERT_TRUE(lake.recover().isOk());  // a restart writes what was staged
  EXPECT_EQ(lines().size(), 3u);
  clock.advance(2000);  // the messages were never deleted: they come back
  auto again = *lakeQ->receive(10, 1000, 0);
  ASSERT_EQ(again.size(), 4u);
  auto n = lake.flush(again);
  ASSERT_TRUE(n.isOk());
  EXPECT_EQ(*n, 0u);  // all placed already
  EXPECT_EQ(lines(), (std::vector<std::string>{"\"e1\"", "\"e2\"", "\"e3\""}));
  EXPECT_EQ((*dlq->peek(10))[0].attributes.at("reason"), "not_a_member_event");
  EXPECT_EQ(lakeQ->stats()->visible + lakeQ->stats()->inFlight, 0);
  auto keys = *objects.list("lake/member-events/dt=2026-11-24/hr=13/");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0], lakeObjectKey("2026-11-24", 13, "lake-0", 1, 3));
}

// run() on its own thread with a ManualClock; the lake queue (behind FlakyQueue) waits its
// receive wait on that clock, and the age of the buffer is the clock's monotonic time.
class LakeRunTest : public ::testing::Test {
 protected:
  static constexpr milliseconds kReceiveWait{100};  // the lake's receive wait
  TempDir dir;
  ManualClock clock;
  std::shared_ptr<emb::SqliteQueueStore> queues =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  std::unique_ptr<Queue> lakeReal = queues->queue("lake", {});
  std::unique_ptr<Queue> dlq = queues->queue("lake-dlq", {});
  FlakyQueue lakeQ{*lakeReal};
  emb::DirObjectStore objectsReal{dir.file("objects")};
  FlakyStore objects{objectsReal};
  std::unique_ptr<emb::SqliteLakeJournal> journal =
      *emb::SqliteLakeJournal::open(dir.file("lake.db"));
  LakeOptions opts = [] {
    LakeOptions o;
    o.maxEvents = 2;
    o.flushAfter = milliseconds(1000);
    o.visibilityMs = 1000;
    o.backoff = {100, 5000, 0};
    o.jitterSeed = 5;
    return o;
  }();
  std::unique_ptr<LakeStage> lake;
  LoopThread loop;  // declared last: joined before the rest goes

  void start() {
    lake = std::make_unique<LakeStage>(lakeQ, *dlq, objects, *journal, clock, opts);
    lakeQ.waitOn(clock, loop.token());
    loop.start([this](std::stop_token t) { lake->run(t); });
  }
  size_t objectCount() { return objectsReal.list("lake/")->size(); }
  Status send(const std::string& id, const std::string& member) {
    return lakeReal->send({{member, id, event(id, member, 1), {}}});
  }
};

TEST_F(LakeRunTest, IdlePollingWaitsInTheReceiveAndNeverBacksOff) {
  start();
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(clock.waitForSleepers(1, kStep)) << i;
    EXPECT_EQ(lakeQ.receives.calls(), i);  // one receive per wait: no spinning
    clock.advance(kReceiveWait);
  }
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  EXPECT_EQ(clock.sleeps(), std::vector<milliseconds>(6, kReceiveWait));
  EXPECT_EQ(objectCount(), 0u);
  ASSERT_TRUE(loop.stop(kStep));
}

TEST_F(LakeRunTest, AQueueOutageBacksOffWithFullJitterThenTheEventsAreWritten) {
  ASSERT_TRUE(send("e1", "M1").isOk());
  ASSERT_TRUE(send("e2", "M2").isOk());
  lakeQ.receives.failNext(4);
  auto expected = jitterDelays(opts.backoff, opts.jitterSeed, 4);
  start();
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_GT(expected[i].count(), 0) << "choose a seed without zero delays";
    ASSERT_TRUE(clock.waitForSleepers(1, kStep)) << i;
    ASSERT_EQ(clock.sleeps().size(), i + 1);
    EXPECT_EQ(clock.sleeps()[i], expected[i]) << "failure " << i + 1;
    clock.advance(expected[i]);
  }
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));  // written (maxEvents), then receiving again
  EXPECT_EQ(clock.sleeps().back(), kReceiveWait);
  EXPECT_EQ(objectCount(), 1u);
  EXPECT_EQ(lakeReal->stats()->visible + lakeReal->stats()->inFlight, 0);
  ASSERT_TRUE(loop.stop(kStep));
}

// A failed write backs off, and so does the next one: receives in between (the events are in
// flight until their visibility timeout) do not reset the writer's backoff.
TEST_F(LakeRunTest, FailedWritesBackOffWithGrowingDelaysUntilTheEventsComeBackAndAreWritten) {
  ASSERT_TRUE(send("e1", "M1").isOk());
  ASSERT_TRUE(send("e2", "M2").isOk());
  objects.puts.failNext(2);
  auto expected = jitterDelays(opts.backoff, opts.jitterSeed, 2);
  for (auto d : expected) ASSERT_TRUE(d.count() > 0 && d != kReceiveWait) << "choose another seed";
  start();
  ASSERT_TRUE(runClockUntil(clock, [&] { return objectCount() == 1; }));
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  std::vector<milliseconds> backoffs;
  for (auto d : clock.sleeps()) {
    if (d != kReceiveWait) backoffs.push_back(d);
  }
  EXPECT_EQ(backoffs, expected);
  EXPECT_EQ(clock.sleeps()[0], expected[0]);  // the first write failed at once: backoff first
  EXPECT_EQ(objects.puts.calls(), 3);
  EXPECT_EQ(lakeReal->stats()->visible + lakeReal->stats()->inFlight, 0);
  ASSERT_TRUE(loop.stop(kStep));
}

TEST_F(LakeRunTest, FlushesWhatHasWaitedFlushAfterOnTheClock) {
  opts.maxEvents = 5000;
  ASSERT_TRUE(send("e1", "M1").isOk());
  start();
  for (int waited = 0; waited < 1000; waited += 100) {
    ASSERT_TRUE(clock.waitForSleepers(1, kStep)) << waited;
    EXPECT_EQ(objectCount(), 0u) << waited;  // younger than flushAfter: buffered
    clock.advance(kReceiveWait);
  }
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  EXPECT_EQ(objectCount(), 1u);
  ASSERT_TRUE(loop.stop(kStep));
}

TEST_F(LakeRunTest, AStopWritesWhatIsBuffered) {
  opts.maxEvents = 5000;
  ASSERT_TRUE(send("e1", "M1").isOk());
  start();
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));  // e1 buffered, waiting for more
  EXPECT_EQ(objectCount(), 0u);
  ASSERT_TRUE(loop.stop(kStep));
  EXPECT_EQ(objectCount(), 1u);
}

TEST_F(LakeRunTest, AStopDuringABackoffEndsRunAtOnce) {
  lakeQ.receives.failAlways();
  opts.backoff = {60000, 600000, 0};  // minutes of backoff, on a clock that never moves
  start();
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  int receives = lakeQ.receives.calls();
  auto before = clock.monotonicNow();
  ASSERT_TRUE(loop.stop(kStep));
  EXPECT_EQ(clock.monotonicNow(), before);
  EXPECT_EQ(lakeQ.receives.calls(), receives);
}

}  // namespace
}  // namespace memberflow
