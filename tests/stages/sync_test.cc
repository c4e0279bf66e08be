// The sync stage's decisions, with a scripted HttpClient standing in for the Member API (a
// mock of the port in a stage's unit test; the real API is exercised in api_test and e2e).
#include "stages/sync.h"

#include <gtest/gtest.h>

#include "adapters/embedded/sqlite_queue.h"
#include "domain/change_command.h"
#include "support/fakes.h"
#include "support/fault_injection.h"
#include "support/stage_loop.h"
#include "support/test_support.h"

namespace memberflow {
namespace {

using testing::FlakyQueue;
using testing::jitterDelays;
using testing::kStep;
using testing::LoopThread;
using testing::ManualClock;
using testing::runClockUntil;
using testing::ScriptedHttp;
using testing::TempDir;
namespace emb = memberflow::embedded;

class CountingTokens final : public TokenProvider {
 public:
  int refreshes = 0;
  std::string rejected;
  Result<std::string> token(bool force) override {
    if (force) ++refreshes;
    return std::string(force ? "fresh" : "cached");
  }
  Result<std::string> refresh(const std::string& r) override {
    rejected = r;
    return token(true);
  }
};

Member member(const std::string& id) {
  Member m;
  m.memberId = id;
  m.name = {"Ada", std::nullopt, "Lovelace", std::nullopt};
  m.birthDate = "1990-01-31";
  m.gender = Gender::kFemale;
  m.status = MemberStatus::kActive;
  return m;
}

OutgoingMessage command(const std::string& id, int64_t seq, bool del = false) {
  ChangeCommand c;
  c.messageId = "core:" + std::to_string(seq);
  c.memberId = id;
  c.sourceSequence = seq;
  c.op = del ? ChangeCommand::Op::kDelete : ChangeCommand::Op::kUpsert;
  if (!del) c.member = member(id);
  return {id, c.messageId, serializeCommand(c), {}};
}

class SyncTest : public ::testing::Test {
 protected:
  TempDir dir;
  ManualClock clock;
  std::shared_ptr<emb::SqliteQueueStore> queues =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  std::unique_ptr<Queue> changes = queues->queue("changes", {});
  std::unique_ptr<Queue> dlq = queues->queue("changes-dlq", {});
  ScriptedHttp http;
  CountingTokens tokens;
  SyncOptions opts = [] {
    SyncOptions o;
    o.apiBaseUrl = "http://api";
    o.backoff = {100, 1000, 3};
    o.workers = 4;
    o.jitterSeed = 7;  // fixed delays: a random zero delay would leave nothing in flight
    return o;
  }();
  SyncStage stage{*changes, *dlq, http, tokens, clock, opts};

  SyncReport runOnce() {
    auto batch = changes->receive(100, 30000, 0);
    EXPECT_TRUE(batch.isOk());
    auto r = stage.process(*batch);
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    return r.isOk() ? *r : SyncReport{};
  }
};

TEST_F(SyncTest, AppliesWithIdempotencyKeyAndSequenceThenDeletes) {
  ASSERT_TRUE(changes->send({command("M1", 5), command("M2", 6, true)}).isOk());
  auto r = runOnce();
  EXPECT_EQ(r.applied, 2u);
  ASSERT_EQ(http.seen.size(), 2u);
  for (const auto& req : http.seen) {
    std::map<std::string, std::string> h(req.headers.begin(), req.headers.end());
    EXPECT_EQ(h["Idempotency-Key"].rfind("core:", 0), 0u);
    EXPECT_FALSE(h["X-Source-Sequence"].empty());
    EXPECT_EQ(h["Authorization"], "Bearer cached");
    if (req.method == "PUT")
      EXPECT_NE(req.body.find("\"memberId\":\"M1\""), std::string::npos);
    else
      EXPECT_EQ(req.method, "DELETE");
  }
  EXPECT_EQ(changes->stats()->visible + changes->stats()->inFlight, 0);
}

TEST_F(SyncTest, StaleAndDeleteOfAbsentAreAcknowledged) {
  http.script["M1"] = {
      ScriptedHttp::status(409, R"({"type":"urn:memberflow:problem:stale-source-sequence"})")};
  http.script["M2"] = {
      ScriptedHttp::status(404, R"({"type":"urn:memberflow:problem:member-not-found"})")};
  ASSERT_TRUE(changes->send({command("M1", 5), command("M2", 6, true)}).isOk());
  auto r = runOnce();
  EXPECT_EQ(r.stale, 1u);
  EXPECT_EQ(r.applied, 1u);
  EXPECT_EQ(dlq->stats()->visible, 0);
  EXPECT_EQ(changes->stats()->visible + changes->stats()->inFlight, 0);
}

TEST_F(SyncTest, UnfixableClientErrorsGoToTheDlqAtOnce) {
  http.script["M1"] = {
      ScriptedHttp::status(422, R"({"type":"urn:memberflow:problem:validation-failed"})")};
  ASSERT_TRUE(changes->send({command("M1", 5)}).isOk());
  auto r = runOnce();
  EXPECT_EQ(r.deadLettered, 1u);
  auto dead = dlq->peek(10);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].attributes.at("reason"), "api_rejected_422");
  EXPECT_EQ(changes->stats()->visible + changes->stats()->inFlight, 0);
}

TEST_F(SyncTest, PoisonMessagesGoToTheDlq) {
  ASSERT_TRUE(changes->send({{"M1", "bad", "not a command", {}}}).isOk());
  EXPECT_EQ(runOnce().deadLettered, 1u);
  EXPECT_EQ((*dlq->peek(1))[0].attributes.at("reason"), "malformed_command");
  EXPECT_TRUE(http.seen.empty());
}

TEST_F(SyncTest, FailingChangesRetryWithBackoffThenDeadLetter) {
  http.script["M1"] = {ScriptedHttp::status(500)};  // a server error this change provokes
  ASSERT_TRUE(changes->send({command("M1", 5)}).isOk());
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto r = runOnce();
    if (attempt < 3) {
      EXPECT_EQ(r.retried, 1u) << attempt;
      EXPECT_EQ(changes->stats()->inFlight, 1);  // hidden for the jittered backoff
      clock.advance(1001);                       // the cap
    } else {
      EXPECT_EQ(r.deadLettered, 1u);
    }
  }
  EXPECT_EQ((*dlq->peek(1))[0].attributes.at("reason"), "attempts_exhausted:api_status_500");
}

// An API (or database) outage is not the change's fault: however long it lasts, the change is
// retried, never dead-lettered, and the stage is told to pause.
TEST_F(SyncTest, AnUnavailableApiNeverDeadLettersChanges) {
  http.script["M1"] = {ScriptedHttp::unreachable()};
  http.script["M2"] = {ScriptedHttp::status(503)};
  ASSERT_TRUE(changes->send({command("M1", 5), command("M2", 6)}).isOk());
  for (int attempt = 1; attempt <= 6; ++attempt) {
    auto r = runOnce();
    EXPECT_EQ(r.retried, 2u) << attempt;
    EXPECT_EQ(r.deadLettered, 0u) << attempt;
    EXPECT_TRUE(r.apiUnavailable);
    clock.advance(1001);
  }
  EXPECT_TRUE(dlq->peek(10)->empty());
}

// Batch writes (sync.batch_write_max): one POST /members:batchWrite per round, at most one
// change per member in it, a member's next change in a later round once the earlier one's
// result is known; per-item results drive delete, retry and DLQ as single answers do.
class SyncBatchTest : public SyncTest {
 protected:
  SyncOptions batchOpts = [this] {
    SyncOptions o = opts;
    o.batchWriteMax = 500;
    return o;
  }();
  SyncStage batched{*changes, *dlq, http, tokens, clock, batchOpts};
  SyncReport runBatched() {
    auto batch = changes->receive(100, 30000, 0);
    EXPECT_TRUE(batch.isOk());
    auto r = batched.process(*batch);
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    return r.isOk() ? *r : SyncReport{};
  }
};

TEST_F(SyncBatchTest, OneRequestPerRoundAndAMembersNextChangeInTheNextRound) {
  ASSERT_TRUE(changes->send({command("M1", 5), command("M1", 6), command("M2", 7, true)}).isOk());
  auto r = runBatched();
  EXPECT_EQ(r.applied, 3u);
  EXPECT_EQ(http.batches, 2);
  EXPECT_EQ(http.batchItems, (std::vector<std::vector<std::string>>{{"M1", "M2"}, {"M1"}}));
  auto sent = http.sentTo("/members:batchWrite");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(testing::headerOf(sent[0], "Authorization"), "Bearer cached");
  // Only each item's status and problem are read: the members are not asked back.
  EXPECT_EQ(testing::headerOf(sent[0], "Prefer"), "return=minimal");
  auto items = json::parse(sent[0].body).at("items").as_array();
  EXPECT_EQ(items[0].at("op").as_string(), "put");
  EXPECT_EQ(items[0].at("idempotencyKey").as_string(), "core:5");
  EXPECT_EQ(items[0].at("sourceSequence").as_int64(), 5);
  EXPECT_EQ(items[1].at("op").as_string(), "delete");
  EXPECT_EQ(changes->stats()->visible + changes->stats()->inFlight, 0);
}

TEST_F(SyncBatchTest, PerItemResultsDecideEachChangeAsASingleAnswerWould) {
  http.script["M1"] = {
      ScriptedHttp::status(409, R"({"type":"urn:memberflow:problem:stale-source-sequence"})")};
  http.script["M2"] = {ScriptedHttp::status(422, R"({"type":"urn:memberflow:problem:x"})")};
  http.script["M3"] = {ScriptedHttp::status(503)};
  http.script["M4"] = {ScriptedHttp::status(404)};
  ASSERT_TRUE(changes
                  ->send({command("M1", 1), command("M2", 2), command("M3", 3), command("M3", 4),
                          command("M4", 5, true)})
                  .isOk());
  auto r = runBatched();
  EXPECT_EQ(r.stale, 1u);         // M1
  EXPECT_EQ(r.deadLettered, 1u);  // M2
  EXPECT_EQ(r.retried, 2u);       // M3 and the change behind it
  EXPECT_EQ(r.applied, 1u);       // M4: a delete of an absent member is done
  EXPECT_TRUE(r.apiUnavailable);
  EXPECT_EQ(http.batches, 1);  // M3's second change was not sent
  auto dead = dlq->peek(10);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ(dead->front().attributes.at("reason"), "api_rejected_422");
}

TEST_F(SyncBatchTest, AnUnreachableApiRetriesTheWholeBatchWithoutSpendingAttempts) {
  http.script["M2"] = {ScriptedHttp::unreachable(), ScriptedHttp::status(200)};
  ASSERT_TRUE(changes->send({command("M1", 1), command("M2", 2)}).isOk());
  auto r = runBatched();
  EXPECT_EQ(r.retried, 2u);
  EXPECT_TRUE(r.apiUnavailable);
  EXPECT_TRUE(dlq->peek(10)->empty());
  clock.advance(1001);
  r = runBatched();
  EXPECT_EQ(r.applied, 2u);
}

TEST_F(SyncBatchTest, AnApiThatRefusesTheBatchGetsSingleRequests) {
  http.script["members:batchWrite"] = {ScriptedHttp::status(404)};
  ASSERT_TRUE(changes->send({command("M1", 1), command("M2", 2)}).isOk());
  auto r = runBatched();
  EXPECT_EQ(r.applied, 2u);
  EXPECT_EQ(http.sentTo("/member/M1").size(), 1u);
  EXPECT_EQ(http.sentTo("/member/M2").size(), 1u);
}

// A Lambda invocation's deadline: no change starts after it, each request's timeout is cut to
// what is left, and the changes not started are retried without spending an attempt.
TEST_F(SyncTest, ADeadlineStopsStartingChangesAndCutsRequestTimeouts) {
  ASSERT_TRUE(changes->send({command("M1", 5), command("M2", 6)}).isOk());
  SyncOptions o = opts;
  o.backoff.maxAttempts = 1;  // a spent attempt would dead-letter at once
  o.deadlineMs = clock.nowMs();
  SyncStage late{*changes, *dlq, http, tokens, clock, o};
  auto batch = changes->receive(100, 30000, 0);
  ASSERT_TRUE(batch.isOk());
  auto r = late.process(*batch);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->retried, 2u);
  EXPECT_EQ(r->deadLettered, 0u);
  EXPECT_TRUE(http.seen.empty());
  EXPECT_TRUE(dlq->peek(10)->empty());
  // Not backed off: visible again at once, and applied by a stage with time left.
  o.deadlineMs = clock.nowMs() + 2500;
  SyncStage inTime{*changes, *dlq, http, tokens, clock, o};
  batch = changes->receive(100, 30000, 0);
  ASSERT_TRUE(batch.isOk());
  ASSERT_EQ(batch->size(), 2u);
  r = inTime.process(*batch);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->applied, 2u);
  ASSERT_EQ(http.seen.size(), 2u);
  for (const auto& req : http.seen) EXPECT_EQ(req.timeoutMs, 2500);
}

TEST_F(SyncTest, ThrottledChangesAreBackedOffButNeverDeadLettered) {
  http.script["M1"] = {ScriptedHttp::status(429)};
  ASSERT_TRUE(changes->send({command("M1", 5)}).isOk());
  for (int attempt = 1; attempt <= 8; ++attempt) {
    auto r = runOnce();
    EXPECT_EQ(r.retried, 1u) << attempt;
    EXPECT_EQ(r.deadLettered, 0u) << attempt;
    clock.advance(30001);
  }
  EXPECT_TRUE(dlq->peek(10)->empty());
}

TEST_F(SyncTest, ARetriedChangeHoldsBackTheSameMembersLaterChanges) {
  http.script["M1"] = {ScriptedHttp::status(503), ScriptedHttp::status(200)};
  ASSERT_TRUE(changes->send({command("M1", 5), command("M1", 6), command("M2", 7)}).isOk());
  auto r = runOnce();
  EXPECT_EQ(r.applied, 1u);  // M2 only
  EXPECT_EQ(r.retried, 2u);
  clock.advance(1001);
  r = runOnce();
  EXPECT_EQ(r.applied, 2u);
  // The API saw M1's changes in order: 5 (failed), 5, 6.
  std::vector<std::string> m1;
  for (const auto& req : http.seen) {
    for (const auto& [k, v] : req.headers) {
      if (k == "X-Source-Sequence" && req.url.ends_with("/M1")) m1.push_back(v);
    }
  }
  EXPECT_EQ(m1, (std::vector<std::string>{"5", "5", "6"}));
}

TEST_F(SyncTest, RefreshesTheTokenOnceOn401) {
  http.script["M1"] = {ScriptedHttp::status(401), ScriptedHttp::status(200)};
  ASSERT_TRUE(changes->send({command("M1", 5)}).isOk());
  EXPECT_EQ(runOnce().applied, 1u);
  EXPECT_EQ(tokens.refreshes, 1);
  EXPECT_EQ(tokens.rejected, "cached");  // the token the API refused is named
}

// run() on its own thread with a ManualClock; the changes queue (behind FlakyQueue) waits its
// receive wait on that clock, so the test steps the loop through every sleep it asks for.
class SyncRunTest : public ::testing::Test {
 protected:
  TempDir dir;
  ManualClock clock;
  std::shared_ptr<emb::SqliteQueueStore> queues =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  std::unique_ptr<Queue> changesReal = queues->queue("changes", {});
  std::unique_ptr<Queue> dlq = queues->queue("changes-dlq", {});
  FlakyQueue changes{*changesReal};
  ScriptedHttp http;
  CountingTokens tokens;
  SyncOptions opts = [] {
    SyncOptions o;
    o.apiBaseUrl = "http://api";
    o.backoff = {100, 10000, 3};
    o.workers = 2;
    o.jitterSeed = 7;
    return o;
  }();
  std::unique_ptr<SyncStage> stage;
  LoopThread loop;  // declared last: joined before the rest goes

  void start() {
    stage = std::make_unique<SyncStage>(changes, *dlq, http, tokens, clock, opts);
    changes.waitOn(clock, loop.token());
    loop.start([this](std::stop_token t) { stage->run(t); });
  }
  // The paths the API saw, in order.
  std::vector<std::string> paths() {
    std::lock_guard lock(http.mu);
    std::vector<std::string> out;
    for (const auto& r : http.seen) out.push_back(r.url.substr(std::string("http://api").size()));
    return out;
  }
  int64_t queued() { return changesReal->stats()->visible + changesReal->stats()->inFlight; }
};

TEST_F(SyncRunTest, IdlePollingWaitsInTheReceiveAndNeverBacksOff) {
  start();
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(clock.waitForSleepers(1, kStep)) << i;
    EXPECT_EQ(changes.receives.calls(), i);  // one receive per wait: no spinning
    clock.advance(opts.waitMs);
  }
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  EXPECT_EQ(clock.sleeps(),
            std::vector<std::chrono::milliseconds>(6, std::chrono::milliseconds(opts.waitMs)));
  for (int64_t w : changes.receiveWaits()) EXPECT_EQ(w, opts.waitMs);
  EXPECT_TRUE(paths().empty());
  ASSERT_TRUE(loop.stop(kStep));
}

TEST_F(SyncRunTest, AQueueOutageBacksOffWithFullJitterThenTheChangeIsApplied) {
  ASSERT_TRUE(changesReal->send({command("M1", 5)}).isOk());
  changes.receives.failNext(4);
  auto expected = jitterDelays(withoutAttemptLimit(opts.backoff), opts.jitterSeed, 4);
  start();
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_GT(expected[i].count(), 0) << "choose a seed without zero delays";
    ASSERT_TRUE(clock.waitForSleepers(1, kStep)) << i;
    ASSERT_EQ(clock.sleeps().size(), i + 1);
    EXPECT_EQ(clock.sleeps()[i], expected[i]) << "failure " << i + 1;
    clock.advance(expected[i]);
  }
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));  // applied, then waiting in the receive again
  EXPECT_EQ(clock.sleeps().back(), std::chrono::milliseconds(opts.waitMs));
  EXPECT_EQ(paths(), std::vector<std::string>{"/member/M1"});
  EXPECT_EQ(queued(), 0);
  ASSERT_TRUE(loop.stop(kStep));
}

// The API answers 503: sync pauses, probing /readyz with growing full-jitter delays instead of
// receiving more changes, and resumes once it is ready; the change is applied, never
// dead-lettered.
TEST_F(SyncRunTest, AnApiOutagePausesSyncWhichProbesReadinessWithBackoffThenResumes) {
  http.script["M1"] = {ScriptedHttp::status(503), ScriptedHttp::status(200)};
  http.script["readyz"] = {ScriptedHttp::status(503), ScriptedHttp::status(503),
                           ScriptedHttp::status(503), ScriptedHttp::status(200)};
  ASSERT_TRUE(changesReal->send({command("M1", 5)}).isOk());
  BackoffPolicy probing = withoutAttemptLimit(opts.backoff);
  auto expected = jitterDelays(probing, opts.jitterSeed, 3);
  start();
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_GT(expected[i].count(), 0) << "choose a seed without zero delays";
    ASSERT_TRUE(clock.waitForSleepers(1, kStep)) << i;
    ASSERT_EQ(clock.sleeps().size(), i + 1);
    EXPECT_EQ(clock.sleeps()[i], expected[i]) << "probe " << i + 1;
    clock.advance(expected[i]);
  }
  // Ready again: the change comes back after its own (visibility) delay and is applied.
  ASSERT_TRUE(runClockUntil(clock, [&] { return paths().size() == 6; }));
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  EXPECT_EQ(paths(), (std::vector<std::string>{"/member/M1", "/readyz", "/readyz", "/readyz",
                                               "/readyz", "/member/M1"}));
  EXPECT_EQ(queued(), 0);
  EXPECT_TRUE(dlq->peek(10)->empty());
  ASSERT_TRUE(loop.stop(kStep));
}

TEST_F(SyncRunTest, AStopDuringABackoffEndsRunAtOnce) {
  changes.receives.failAlways();
  opts.backoff = {60000, 600000, 3};  // minutes of backoff, on a clock that never moves
  start();
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  int receives = changes.receives.calls();
  auto before = clock.monotonicNow();
  ASSERT_TRUE(loop.stop(kStep));
  EXPECT_EQ(clock.monotonicNow(), before);
  EXPECT_EQ(changes.receives.calls(), receives);
}

TEST_F(SyncRunTest, AStopWhileWaitingForTheApiEndsRunAtOnceAndKeepsTheChange) {
  http.script["M1"] = {ScriptedHttp::status(503)};
  http.script["readyz"] = {ScriptedHttp::unreachable()};
  opts.backoff = {60000, 600000, 3};
  ASSERT_TRUE(changesReal->send({command("M1", 5)}).isOk());
  start();
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));  // in waitForApi's backoff
  EXPECT_EQ(paths(), (std::vector<std::string>{"/member/M1", "/readyz"}));
  auto before = clock.monotonicNow();
  ASSERT_TRUE(loop.stop(kStep));
  EXPECT_EQ(clock.monotonicNow(), before);
  EXPECT_EQ(queued(), 1);
  EXPECT_TRUE(dlq->peek(10)->empty());
}

}  // namespace
}  // namespace memberflow
