// Parking in the sync stage (issue 18, DESIGN.md §4 guarantee 6): a dead letter parks its
// member, the member's later changes are held in order (the real SQLite parking store), other
// members flow, and draining a released member applies the dead change and then the held ones,
// in order, and unparks it. The Member API is scripted (a mock of the HTTP port in a stage test).
#include <gtest/gtest.h>

#include "adapters/embedded/sqlite_parking_store.h"
#include "adapters/embedded/sqlite_queue.h"
#include "domain/change_command.h"
#include "stages/sync.h"
#include "support/fakes.h"
#include "support/test_support.h"

namespace memberflow {
namespace {

using testing::ManualClock;
using testing::ScriptedHttp;
using testing::TempDir;
namespace emb = memberflow::embedded;

class FixedTokens final : public TokenProvider {
 public:
  Result<std::string> token(bool) override { return std::string("t"); }
  Result<std::string> refresh(const std::string&) override { return std::string("t"); }
};

OutgoingMessage change(const std::string& id, int64_t seq) {
  ChangeCommand c;
  c.messageId = "core:" + std::to_string(seq);
  c.memberId = id;
  c.sourceSequence = seq;
  c.op = ChangeCommand::Op::kUpsert;
  Member m;
  m.memberId = id;
  m.name = {"Ada", std::nullopt, "L" + std::to_string(seq), std::nullopt};
  m.birthDate = "1990-01-31";
  m.gender = Gender::kFemale;
  m.status = MemberStatus::kActive;
  c.member = m;
  return {id, c.messageId, serializeCommand(c), {}};
}

HttpResult rejected() {
  return ScriptedHttp::status(422, R"({"type":"urn:memberflow:problem:validation-failed"})");
}

// The Idempotency-Keys sent for one member, in order (single requests and batch items).
std::vector<std::string> keysSentFor(ScriptedHttp& http, const std::string& member) {
  std::vector<std::string> out;
  for (const auto& r : http.seen) {
    if (r.url.ends_with("/" + member)) {
      for (const auto& [k, v] : r.headers)
        if (k == "Idempotency-Key") out.push_back(v);
    } else if (r.url.ends_with("members:batchWrite")) {
      auto items = json::parse(r.body).as_object().at("items").as_array();
      for (const auto& it : items) {
        const auto& o = it.as_object();
        if (o.contains("memberId") && o.at("memberId").as_string() == member)
          out.emplace_back(o.at("idempotencyKey").as_string());
      }
    }
  }
  return out;
}

class SyncParkingTest : public ::testing::TestWithParam<size_t> {
 protected:
  TempDir dir;
  ManualClock clock;
  std::shared_ptr<emb::SqliteQueueStore> queues =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  std::unique_ptr<Queue> changes = queues->queue("changes", {});
  std::unique_ptr<Queue> dlq = queues->queue("changes-dlq", {});
  std::unique_ptr<emb::SqliteParkingStore> parking =
      std::move(emb::SqliteParkingStore::open(dir.file("parking.db"))).value();
  ScriptedHttp http;
  FixedTokens tokens;
  SyncOptions opts = [this] {
    SyncOptions o;
    o.apiBaseUrl = "http://api";
    o.backoff = {100, 1000, 3};
    o.workers = 4;
    o.jitterSeed = 7;
    o.batchWriteMax = GetParam();
    return o;
  }();
  SyncStage stage{*changes, *dlq, http, tokens, clock, opts, parking.get()};

  SyncReport runOnce() {
    auto batch = changes->receive(100, 30000, 0);
    EXPECT_TRUE(batch.isOk());
    auto r = stage.process(*batch);
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    return r.isOk() ? *r : SyncReport{};
  }
  std::optional<ParkedMember> state(const std::string& id) { return (*parking->state({id}))[0]; }
  // What `dlq redrive` does for a parked member: its dead change released at the head.
  void redrive() {
    auto dead = dlq->peek(10);
    ASSERT_TRUE(dead.isOk());
    ASSERT_EQ(dead->size(), 1u);
    ParkedChange head;
    head.messageId = "core:2";
    head.body = (*dead)[0].body;
    ASSERT_TRUE(parking->release("M1", head, clock.nowMs()).isOk());
  }
};

TEST_P(SyncParkingTest, ADeadLetterParksItsMemberHoldsItsLaterChangesAndOthersFlow) {
  http.script["M1"] = {ScriptedHttp::status(200), rejected(), ScriptedHttp::status(200)};
  ASSERT_TRUE(changes
                  ->send({change("M1", 1), change("M1", 2), change("M2", 10), change("M1", 3),
                          change("M1", 4)})
                  .isOk());
  auto r = runOnce();
  EXPECT_EQ(r.applied, 2u);  // M1's first change and M2's
  EXPECT_EQ(r.deadLettered, 1u);
  EXPECT_EQ(r.held, 2u);
  EXPECT_EQ(keysSentFor(http, "M1"), (std::vector<std::string>{"core:1", "core:2"}));
  EXPECT_EQ(changes->stats()->visible + changes->stats()->inFlight, 0);
  auto p = state("M1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->state, ParkedMember::State::kParked);
  EXPECT_EQ(p->deadMessageId, "core:2");
  EXPECT_EQ(p->reason, "api_rejected_422");
  EXPECT_EQ(p->held, 2);
  EXPECT_FALSE(state("M2"));

  // A later change of the parked member is held too, without a request; others still flow.
  ASSERT_TRUE(changes->send({change("M1", 5), change("M3", 11)}).isOk());
  r = runOnce();
  EXPECT_EQ(r.held, 1u);
  EXPECT_EQ(r.applied, 1u);
  EXPECT_EQ(keysSentFor(http, "M1").size(), 2u);
  EXPECT_EQ(state("M1")->held, 3);

  // Nothing is drained while the member is parked.
  EXPECT_EQ(stage.drainReleased()->applied, 0u);

  // Released: the dead change first, then the held ones, in order; then unparked.
  redrive();
  auto d = stage.drainReleased();
  ASSERT_TRUE(d.isOk()) << d.status().toString();
  EXPECT_EQ(d->applied, 4u);
  EXPECT_EQ(d->unparked, 1u);
  EXPECT_EQ(keysSentFor(http, "M1"),
            (std::vector<std::string>{"core:1", "core:2", "core:2", "core:3", "core:4", "core:5"}));
  EXPECT_FALSE(state("M1"));
  // Unparked: its next change is applied as any other.
  ASSERT_TRUE(changes->send({change("M1", 6)}).isOk());
  EXPECT_EQ(runOnce().applied, 1u);
}

TEST_P(SyncParkingTest, AChangeThatFailsAgainWhileDrainingParksTheMemberAgainKeepingTheRest) {
  http.script["M1"] = {rejected()};  // every attempt
  ASSERT_TRUE(changes->send({change("M1", 2), change("M1", 3), change("M1", 4)}).isOk());
  runOnce();
  ASSERT_EQ(state("M1")->held, 2);
  redrive();
  ASSERT_TRUE(dlq->remove({(*dlq->receive(10, 30000, 0))[0].receiptHandle}).isOk());
  auto d = stage.drainReleased();
  ASSERT_TRUE(d.isOk());
  EXPECT_EQ(d->applied, 0u);
  EXPECT_EQ(d->deadLettered, 1u);
  auto p = state("M1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->state, ParkedMember::State::kParked);
  EXPECT_EQ(p->held, 2);  // core:3 and core:4 still held, in order
  auto held = parking->held("M1", 10);
  ASSERT_EQ(held->size(), 2u);
  EXPECT_EQ((*held)[0].messageId, "core:3");
  EXPECT_EQ((*held)[1].messageId, "core:4");
  EXPECT_EQ(dlq->stats()->visible, 1);  // dead again, on the DLQ with its reason
}

TEST_P(SyncParkingTest, ExhaustedAttemptsParkTheMemberAndItsRetriedChangesAreHeldNextTime) {
  http.script["M1"] = {ScriptedHttp::status(500)};
  ASSERT_TRUE(changes->send({change("M1", 2), change("M1", 3)}).isOk());
  for (int attempt = 1; attempt <= 3; ++attempt) {
    runOnce();
    clock.advance(1001);
  }
  ASSERT_TRUE(state("M1"));
  EXPECT_EQ(state("M1")->reason, "attempts_exhausted:api_status_500");
  auto r = runOnce();  // core:3 waited behind it; now its member is parked
  EXPECT_EQ(r.held, 1u);
  EXPECT_EQ(state("M1")->held, 1);
  EXPECT_EQ(keysSentFor(http, "M1"), (std::vector<std::string>{"core:2", "core:2", "core:2"}));
}

// A crash after the park and the hold, before the batch left the queue, brings the dead change
// back with the rest: it must not be held behind its own successors (a release puts its DLQ copy
// first); it only leaves the queue.
TEST_P(SyncParkingTest, TheDeadChangeComingBackIsNotHeldBehindItsSuccessors) {
  // As a sync that crashed after the DLQ send, the park and the hold left it: core:2 dead and
  // on the DLQ, core:3 held, and both messages still in the queue.
  ASSERT_TRUE(changes->send({change("M1", 2), change("M1", 3)}).isOk());
  ASSERT_TRUE(dlq->send({change("M1", 2)}).isOk());
  ASSERT_TRUE(parking->park("M1", "core:2", "api_rejected_422", clock.nowMs()).isOk());
  ParkedChange c3;
  c3.messageId = "core:3";
  c3.body = change("M1", 3).body;
  ASSERT_TRUE(parking->hold("M1", {c3}, clock.nowMs()).isOk());

  EXPECT_EQ(runOnce().held, 2u);  // both leave the queue
  EXPECT_EQ(changes->stats()->visible + changes->stats()->inFlight, 0);
  ASSERT_TRUE(changes->send({change("M1", 4)}).isOk());
  runOnce();
  auto held = parking->held("M1", 10);
  ASSERT_EQ(held->size(), 2u);  // core:3, core:4: the dead core:2 not behind them
  EXPECT_EQ((*held)[0].messageId, "core:3");
  EXPECT_EQ((*held)[1].messageId, "core:4");
  redrive();
  ASSERT_TRUE(stage.drainReleased().isOk());
  EXPECT_EQ(keysSentFor(http, "M1"), (std::vector<std::string>{"core:2", "core:3", "core:4"}));
  EXPECT_FALSE(state("M1"));
}

INSTANTIATE_TEST_SUITE_P(SingleAndBatchWrites, SyncParkingTest, ::testing::Values(0u, 100u));

}  // namespace
}  // namespace memberflow
