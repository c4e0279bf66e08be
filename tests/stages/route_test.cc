// The route stage: member events from the route queue onto the event bus, over the embedded
// queue and a recording bus behind fault-injecting wrappers; and its run() loop on a
// ManualClock.
#include "stages/route.h"

#include <gtest/gtest.h>

#include "adapters/embedded/sqlite_queue.h"
#include "support/fakes.h"
#include "support/fault_injection.h"
#include "support/stage_loop.h"
#include "support/test_support.h"

namespace memberflow {
namespace {

using std::chrono::milliseconds;
using testing::FlakyBus;
using testing::FlakyQueue;
using testing::jitterDelays;
using testing::kStep;
using testing::LoopThread;
using testing::ManualClock;
using testing::RecordingBus;
using testing::runClockUntil;
using testing::TempDir;
namespace emb = memberflow::embedded;

std::string event(const std::string& id, const std::string& member) {
  return R"({"specversion":"1.0","id":")" + id +
         R"(","source":"memberflow/member-api","type":"member.updated","subject":")" + member +
         R"(","time":"2026-11-24T13:29:16.853Z","data":{"version":1}})";
}

class RouteTest : public ::testing::Test {
 protected:
  TempDir dir;
  ManualClock clock;
  std::shared_ptr<emb::SqliteQueueStore> queues =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  std::unique_ptr<Queue> inReal = queues->queue("route", {});
  std::unique_ptr<Queue> dlq = queues->queue("route-dlq", {});
  FlakyQueue in{*inReal};
  RecordingBus busReal;
  FlakyBus bus{busReal};
  RouteOptions opts = [] {
    RouteOptions o;
    o.visibilityMs = 1000;
    o.backoff = {100, 5000, 0};
    o.jitterSeed = 3;
    return o;
  }();
  std::unique_ptr<RouteStage> stage = std::make_unique<RouteStage>(in, *dlq, bus, clock, opts);
  LoopThread loop;  // declared last: joined before the rest goes

  Status send(const std::string& id, const std::string& member) {
    return inReal->send({{member, id, event(id, member), {}}});
  }
  std::vector<ReceivedMessage> receive() { return *inReal->receive(10, opts.visibilityMs, 0); }
  int64_t queued() { return inReal->stats()->visible + inReal->stats()->inFlight; }
  std::vector<std::string> routedIds() {
    std::vector<std::string> out;
    for (const auto& e : busReal.got()) out.push_back(e.eventId);
    return out;
  }
  void start() {
    stage = std::make_unique<RouteStage>(in, *dlq, bus, clock, opts);
    in.waitOn(clock, loop.token());
    loop.start([this](std::stop_token t) { stage->run(t); });
  }
};

TEST_F(RouteTest, PutsEachEventOnTheBusAsEventBridgeEntriesThenDeletesIt) {
  ASSERT_TRUE(send("e1", "M1").isOk());
  ASSERT_TRUE(send("e2", "M2").isOk());
  auto n = stage->process(receive());
  ASSERT_TRUE(n.isOk()) << n.status().toString();
  EXPECT_EQ(*n, 2u);
  auto got = busReal.got();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].eventId, "e1");
  EXPECT_EQ(got[0].source, "memberflow/member-api");  // Source = the CloudEvent's source
  EXPECT_EQ(got[0].detailType, "member.updated");     // DetailType = its type
  EXPECT_EQ(got[0].detail, event("e1", "M1"));        // Detail = the whole CloudEvent
  EXPECT_EQ(got[0].time, "2026-11-24T13:29:16.853Z");
  EXPECT_EQ(got[0].groupId, "M1");
  EXPECT_EQ(got[1].groupId, "M2");
  EXPECT_EQ(queued(), 0);
}

TEST_F(RouteTest, MessagesThatAreNoMemberEventGoToTheDlq) {
  ASSERT_TRUE(
      inReal->send({{"M1", "x1", "not json", {}}, {"M2", "x2", R"({"type":"member.updated"})", {}}})
          .isOk());
  ASSERT_TRUE(send("e3", "M3").isOk());
  auto n = stage->process(receive());
  ASSERT_TRUE(n.isOk());
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(routedIds(), std::vector<std::string>{"e3"});
  auto dead = *dlq->peek(10);
  ASSERT_EQ(dead.size(), 2u);
  for (const auto& d : dead) {
    EXPECT_EQ(d.attributes.at("reason"), "not_a_member_event");
    EXPECT_EQ(d.attributes.at("stage"), "route");
  }
  EXPECT_EQ(queued(), 0);
}

// The stage reads only id, type, source and time, but a body that is not JSON anywhere is
// still no member event.
TEST_F(RouteTest, ABodyThatIsNotJsonPastItsEnvelopeFieldsGoesToTheDlq) {
  std::string broken = event("x1", "M1");
  broken.insert(broken.size() - 2, ",]");  // "data":{"version":1,]}
  ASSERT_TRUE(inReal->send({{"M1", "x1", broken, {}}}).isOk());
  ASSERT_TRUE(send("e2", "M2").isOk());
  auto n = stage->process(receive());
  ASSERT_TRUE(n.isOk());
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(routedIds(), std::vector<std::string>{"e2"});
  auto dead = *dlq->peek(10);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].body, broken);
  for (const auto& d : dead) {
    EXPECT_EQ(d.attributes.at("reason"), "not_a_member_event");
    EXPECT_EQ(d.attributes.at("stage"), "route");
  }
  EXPECT_EQ(queued(), 0);
}

// PutEvents can refuse single entries: those messages are not deleted and come back after
// their visibility timeout; the accepted ones are done.
TEST_F(RouteTest, AnEntryTheBusRefusesStaysInFlightAndIsRoutedWhenItComesBack) {
  ASSERT_TRUE(send("e1", "M1").isOk());
  ASSERT_TRUE(send("e2", "M2").isOk());
  ASSERT_TRUE(send("e3", "M3").isOk());
  bus.entries.failCall(2);
  auto n = stage->process(receive());
  ASSERT_TRUE(n.isOk());
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(routedIds(), (std::vector<std::string>{"e1", "e3"}));
  EXPECT_EQ(inReal->stats()->inFlight, 1);
  EXPECT_TRUE(receive().empty());  // hidden until its visibility timeout
  clock.advance(opts.visibilityMs);
  n = stage->process(receive());
  ASSERT_TRUE(n.isOk());
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(routedIds(), (std::vector<std::string>{"e1", "e3", "e2"}));
  EXPECT_EQ(queued(), 0);
}

TEST_F(RouteTest, AFailedPutKeepsTheWholeBatchInFlight) {
  ASSERT_TRUE(send("e1", "M1").isOk());
  ASSERT_TRUE(send("e2", "M2").isOk());
  bus.puts.failNext(1);
  EXPECT_EQ(stage->process(receive()).status().code(), Code::kUnavailable);
  EXPECT_TRUE(busReal.got().empty());
  EXPECT_EQ(inReal->stats()->inFlight, 2);
  clock.advance(opts.visibilityMs);
  auto n = stage->process(receive());
  ASSERT_TRUE(n.isOk());
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(queued(), 0);
}

TEST_F(RouteTest, IdlePollingWaitsInTheReceiveAndNeverBacksOff) {
  start();
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(clock.waitForSleepers(1, kStep)) << i;
    EXPECT_EQ(in.receives.calls(), i);  // one receive per wait: no spinning
    clock.advance(opts.waitMs);
  }
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  EXPECT_EQ(clock.sleeps(), std::vector<milliseconds>(6, milliseconds(opts.waitMs)));
  for (int64_t w : in.receiveWaits()) EXPECT_EQ(w, opts.waitMs);
  EXPECT_EQ(bus.puts.calls(), 0);
  ASSERT_TRUE(loop.stop(kStep));
}

TEST_F(RouteTest, AQueueOutageBacksOffWithFullJitterThenTheEventsAreRouted) {
  ASSERT_TRUE(send("e1", "M1").isOk());
  in.receives.failNext(4);
  auto expected = jitterDelays(opts.backoff, opts.jitterSeed, 4);
  start();
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_GT(expected[i].count(), 0) << "choose a seed without zero delays";
    ASSERT_TRUE(clock.waitForSleepers(1, kStep)) << i;
    ASSERT_EQ(clock.sleeps().size(), i + 1);
    EXPECT_EQ(clock.sleeps()[i], expected[i]) << "failure " << i + 1;
    clock.advance(expected[i]);
  }
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));  // routed, then waiting in the receive again
  EXPECT_EQ(clock.sleeps().back(), milliseconds(opts.waitMs));
  EXPECT_EQ(routedIds(), std::vector<std::string>{"e1"});
  EXPECT_EQ(queued(), 0);
  ASSERT_TRUE(loop.stop(kStep));
}

// While the bus is down its events are in flight and the receives in between find nothing:
// that does not reset the bus's backoff, which keeps growing until the bus is back.
TEST_F(RouteTest, ABusOutageBacksOffWithGrowingDelaysAcrossRedeliveriesThenRoutes) {
  ASSERT_TRUE(send("e1", "M1").isOk());
  bus.puts.failNext(3);
  auto expected = jitterDelays(opts.backoff, opts.jitterSeed, 3);
  for (auto d : expected)
    ASSERT_TRUE(d.count() > 0 && d != milliseconds(opts.waitMs)) << "choose another seed";
  start();
  ASSERT_TRUE(runClockUntil(clock, [&] { return !busReal.got().empty(); }));
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  std::vector<milliseconds> backoffs;
  for (auto d : clock.sleeps()) {
    if (d != milliseconds(opts.waitMs)) backoffs.push_back(d);
  }
  EXPECT_EQ(backoffs, expected);
  EXPECT_EQ(bus.puts.calls(), 4);
  EXPECT_EQ(routedIds(), std::vector<std::string>{"e1"});
  EXPECT_EQ(queued(), 0);
  ASSERT_TRUE(loop.stop(kStep));
}

TEST_F(RouteTest, AStopDuringABackoffEndsRunAtOnce) {
  in.receives.failAlways();
  opts.backoff = {60000, 600000, 0};  // minutes of backoff, on a clock that never moves
  start();
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  int receives = in.receives.calls();
  auto before = clock.monotonicNow();
  ASSERT_TRUE(loop.stop(kStep));
  EXPECT_EQ(clock.monotonicNow(), before);
  EXPECT_EQ(in.receives.calls(), receives);
}

}  // namespace
}  // namespace memberflow
