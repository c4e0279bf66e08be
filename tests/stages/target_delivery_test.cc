// The target delivery stage: deliveries from a target's queue to a webhook (a scripted
// HttpClient), another bus (a recording one) or a queue, with per-member order, retries,
// the DLQ; the record of its deliveries in a DeliveryLog; and its run() loop on a ManualClock.
#include "stages/target_delivery.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "adapters/embedded/sqlite_delivery_log.h"
#include "adapters/embedded/sqlite_queue.h"
#include "support/fakes.h"
#include "support/fault_injection.h"
#include "support/stage_loop.h"
#include "support/test_support.h"

namespace memberflow {
namespace {

using std::chrono::milliseconds;
using testing::FlakyDeliveryLog;
using testing::FlakyQueue;
using testing::headerOf;
using testing::jitterCeiling;
using testing::jitterDelays;
using testing::kStep;
using testing::LoopThread;
using testing::ManualClock;
using testing::MapSecrets;
using testing::RecordingBus;
using testing::ScriptedHttp;
using testing::TempDir;
namespace emb = memberflow::embedded;

// A delivery as the embedded bus enqueues it for a target (embedded_event_bus.cc).
OutgoingMessage delivery(const std::string& eventId, const std::string& member,
                         const std::string& target, bool withEntry = false) {
  json::object d{{"eventId", eventId},
                 {"rule", "r1"},
                 {"target", target},
                 {"payload", json::object{{"memberId", member}, {"eventId", eventId}}}};
  if (withEntry) {
    d["entry"] = json::object{{"eventId", eventId},
                              {"source", "memberflow/member-api"},
                              {"detailType", "member.updated"},
                              {"detail", R"({"id":")" + eventId + R"("})"},
                              {"time", "2026-11-24T13:29:16.853Z"},
                              {"groupId", member}};
  }
  return {member, eventId + "/r1/" + target, json::serialize(d), {{"eventId", eventId}}};
}

TargetConfig webhook() {
  TargetConfig t;
  t.name = "crm";
  t.kind = TargetConfig::Kind::kWebhook;
  t.url = "http://crm.example/hook";
  t.authSecret = "crm-token";
  t.authHeader = "X-Api-Key";
  t.timeoutMs = 1000;
  t.maxAttempts = 3;
  return t;
}

// A webhook answering from several threads at once. It records each member's arrivals in
// order, counts the requests in flight (all, and per member), answers 503 to the event ids in
// `failing`, and holds each request until `gather` of them have been in flight together, so
// that concurrency shows without timing: delivered one at a time, the first request gives up
// after a deadline (and the others do not wait) and maxInFlight() stays 1.
class ConcurrentWebhook final : public HttpClient {
 public:
  explicit ConcurrentWebhook(int gather) : gather_(gather) {}
  std::set<std::string> failing;  // set before the deliveries start

  HttpResult send(const HttpRequest& r) override {
    json::value body = json::parse(r.body);
    std::string member(body.at("memberId").as_string());
    std::string eventId(body.at("eventId").as_string());
    {
      std::unique_lock lock(mu_);
      maxInFlight_ = std::max(maxInFlight_, ++inFlight_);
      if (++memberInFlight_[member] > 1) memberOverlapped_ = true;
      arrivals_[member].push_back(eventId);
      cv_.notify_all();
      if (!gaveUp_ &&
          !cv_.wait_for(lock, milliseconds(2000), [this] { return maxInFlight_ >= gather_; })) {
        gaveUp_ = true;
      }
    }
    std::lock_guard lock(mu_);  // the gather above is what holds requests in flight together
    --inFlight_;
    --memberInFlight_[member];
    return ScriptedHttp::status(failing.count(eventId) ? 503 : 200);
  }
  int maxInFlight() {
    std::lock_guard lock(mu_);
    return maxInFlight_;
  }
  bool memberOverlapped() {
    std::lock_guard lock(mu_);
    return memberOverlapped_;
  }
  std::map<std::string, std::vector<std::string>> arrivals() {
    std::lock_guard lock(mu_);
    return arrivals_;
  }

 private:
  const int gather_;
  std::mutex mu_;
  std::condition_variable cv_;
  int inFlight_ = 0, maxInFlight_ = 0;
  bool gaveUp_ = false, memberOverlapped_ = false;
  std::map<std::string, int> memberInFlight_;
  std::map<std::string, std::vector<std::string>> arrivals_;
};

// Member m's event k: "M<m>-e<k>".
std::string eventOf(int m, int k) { return "M" + std::to_string(m) + "-e" + std::to_string(k); }

class TargetDeliveryTest : public ::testing::Test {
 protected:
  TempDir dir;
  ManualClock clock;
  std::shared_ptr<emb::SqliteQueueStore> queues =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  std::unique_ptr<Queue> inReal = queues->queue("target-crm", {});
  std::unique_ptr<Queue> dlq = queues->queue("target-crm-dlq", {});
  std::unique_ptr<Queue> audit = queues->queue("audit", {});
  FlakyQueue in{*inReal};
  ScriptedHttp http;
  HttpClient* webhookClient = &http;
  MapSecrets secrets;
  RecordingBus partner{"partner"};
  std::unique_ptr<emb::SqliteDeliveryLog> logReal =
      *emb::SqliteDeliveryLog::open(dir.file("deliveries.db"));
  FlakyDeliveryLog deliveryLog{*logReal};
  DeliveryLog* deliveries = nullptr;  // the stage's; &deliveryLog to record
  TargetConfig target = webhook();
  TargetDeliveryOptions opts = [] {
    TargetDeliveryOptions o;
    o.backoff = {100, 1000, 0};
    o.visibilityMs = 2000;
    o.jitterSeed = 13;
    return o;
  }();
  std::unique_ptr<TargetDelivery> stage;
  LoopThread loop;  // declared last: joined before the rest goes

  TargetDeliveryTest() {
    secrets.values["crm-token"] = "s3cret";
    make();
  }
  void make() {
    stage = std::make_unique<TargetDelivery>(
        target, in, *dlq, *webhookClient, secrets,
        [this](const std::string& n) -> EventBus* { return n == "partner" ? &partner : nullptr; },
        [this](const std::string& n) -> Queue* { return n == "audit" ? audit.get() : nullptr; },
        clock, opts, deliveries);
  }
  void start() {
    make();
    in.waitOn(clock, loop.token());
    loop.start([this](std::stop_token t) { stage->run(t); });
  }
  size_t processOnce() {
    auto n = stage->processOnce(0);
    EXPECT_TRUE(n.isOk()) << n.status().toString();
    return n.isOk() ? *n : 0;
  }
  int64_t queued() { return inReal->stats()->visible + inReal->stats()->inFlight; }
  // `members` members with `perMember` deliveries each, sent interleaved (every member's first,
  // then every member's second, ...) or member after member.
  void sendDeliveries(int members, int perMember, bool interleaved = true) {
    std::vector<OutgoingMessage> all;
    for (int i = 0; i < members * perMember; ++i) {
      int m = interleaved ? i % members : i / perMember;
      int k = interleaved ? i / members : i % perMember;
      all.push_back(delivery(eventOf(m, k), "M" + std::to_string(m), "crm"));
    }
    ASSERT_TRUE(inReal->send(all).isOk());
  }
  // "target/event member rule deliveries" of every recorded delivery, in log order.
  std::vector<std::string> recorded() {
    std::vector<std::string> out;
    auto got = logReal->scan(0, 1000);
    EXPECT_TRUE(got.isOk()) << got.status().toString();
    if (!got.isOk()) return out;
    for (const auto& r : *got) {
      out.push_back(r.target + "/" + r.eventId + " " + r.memberId + " " + r.rule + " " +
                    std::to_string(r.deliveries));
    }
    return out;
  }
  std::vector<std::string> deliveredEventIds() {
    std::vector<std::string> out;
    for (const auto& r : http.sentTo("/hook")) out.push_back(headerOf(r, "X-Memberflow-Event-Id"));
    return out;
  }
};

TEST_F(TargetDeliveryTest, AWebhookGetsThePayloadWithTheEventIdRuleAndSecretHeader) {
  ASSERT_TRUE(inReal->send({delivery("e1", "M1", "crm")}).isOk());
  EXPECT_EQ(processOnce(), 1u);
  auto sent = http.sentTo("/hook");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].method, "POST");
  EXPECT_EQ(sent[0].url, "http://crm.example/hook");
  EXPECT_EQ(sent[0].timeoutMs, 1000);
  EXPECT_EQ(json::parse(sent[0].body), json::parse(R"({"memberId":"M1","eventId":"e1"})"));
  EXPECT_EQ(headerOf(sent[0], "X-Memberflow-Event-Id"), "e1");
  EXPECT_EQ(headerOf(sent[0], "X-Memberflow-Rule"), "r1");
  EXPECT_EQ(headerOf(sent[0], "X-Api-Key"), "s3cret");
  EXPECT_EQ(queued(), 0);
}

TEST_F(TargetDeliveryTest, AClientErrorGoesToTheDlqAtOnce) {
  http.script["hook"] = {ScriptedHttp::status(400)};
  ASSERT_TRUE(inReal->send({delivery("e1", "M1", "crm")}).isOk());
  EXPECT_EQ(processOnce(), 0u);
  auto dead = *dlq->peek(10);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].attributes.at("reason"), "webhook_status_400");
  EXPECT_EQ(dead[0].attributes.at("target"), "crm");
  EXPECT_EQ(dead[0].attributes.at("eventId"), "e1");
  EXPECT_EQ(queued(), 0);
}

// A failing delivery comes back after the full-jitter delay of its receive count and holds
// back its member's later deliveries while other members go on.
TEST_F(TargetDeliveryTest, AFailedDeliveryComesBackAfterItsBackoffAndHoldsBackItsMember) {
  http.script["hook"] = {ScriptedHttp::status(503), ScriptedHttp::status(200)};
  ASSERT_TRUE(inReal
                  ->send({delivery("e1", "M1", "crm"), delivery("e2", "M1", "crm"),
                          delivery("e3", "M2", "crm")})
                  .isOk());
  EXPECT_EQ(processOnce(), 1u);  // e1 failed, e2 held behind it, e3 (another member) delivered
  EXPECT_EQ(deliveredEventIds(), (std::vector<std::string>{"e1", "e3"}));
  milliseconds delay = jitterDelays(opts.backoff, opts.jitterSeed, 1)[0];  // receive count 1
  ASSERT_GT(delay.count(), 0) << "choose a seed without a zero delay";
  EXPECT_LE(delay.count(), jitterCeiling(opts.backoff, 1));
  clock.advance(delay.count() - 1);
  EXPECT_EQ(processOnce(), 0u);  // e1 still hidden, and M1's e2 waits for it
  clock.advance(1);
  EXPECT_EQ(processOnce(), 2u);
  EXPECT_EQ(deliveredEventIds(), (std::vector<std::string>{"e1", "e3", "e1", "e2"}));
  EXPECT_EQ(queued(), 0);
  EXPECT_TRUE(dlq->peek(10)->empty());
}

TEST_F(TargetDeliveryTest, ADeliveryFailingMaxAttemptsTimesGoesToTheDlqAndItsMemberMovesOn) {
  http.script["hook"] = {ScriptedHttp::status(503), ScriptedHttp::status(503),
                         ScriptedHttp::status(503), ScriptedHttp::status(200)};
  ASSERT_TRUE(inReal->send({delivery("e1", "M1", "crm"), delivery("e2", "M1", "crm")}).isOk());
  for (int attempt = 1; attempt < target.maxAttempts; ++attempt) {
    EXPECT_EQ(processOnce(), 0u) << attempt;
    EXPECT_TRUE(dlq->peek(10)->empty()) << attempt;
    clock.advance(opts.backoff.capMs);
  }
  EXPECT_EQ(processOnce(), 1u);  // e1's last attempt fails: dead-lettered; e2 follows
  auto dead = *dlq->peek(10);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].attributes.at("reason"), "attempts_exhausted:webhook_status_503");
  EXPECT_EQ(deliveredEventIds(), (std::vector<std::string>{"e1", "e1", "e1", "e2"}));
  EXPECT_EQ(queued(), 0);
}

TEST_F(TargetDeliveryTest, AnUnavailableSecretIsRetriedWithoutCallingTheWebhook) {
  secrets.values.clear();
  ASSERT_TRUE(inReal->send({delivery("e1", "M1", "crm")}).isOk());
  EXPECT_EQ(processOnce(), 0u);
  EXPECT_TRUE(http.sentTo("/hook").empty());
  EXPECT_EQ(inReal->stats()->inFlight, 1);
  EXPECT_TRUE(dlq->peek(10)->empty());
}

TEST_F(TargetDeliveryTest, MembersAreDeliveredConcurrentlyUpToTheConcurrency) {
  opts.concurrency = 4;
  ConcurrentWebhook hook(4);
  webhookClient = &hook;
  make();
  sendDeliveries(40, 1);
  EXPECT_EQ(processOnce(), 40u);
  EXPECT_EQ(hook.maxInFlight(), 4);  // reached, and never more
  EXPECT_EQ(hook.arrivals().size(), 40u);
  EXPECT_EQ(queued(), 0);
}

TEST_F(TargetDeliveryTest, EachMembersDeliveriesArriveInQueueOrderOneAfterAnother) {
  opts.concurrency = 8;
  ConcurrentWebhook hook(8);
  webhookClient = &hook;
  make();
  sendDeliveries(20, 5, false);  // 100 deliveries, each member's side by side: one batch
  EXPECT_EQ(processOnce(), 100u);
  EXPECT_EQ(hook.maxInFlight(), 8);
  EXPECT_FALSE(hook.memberOverlapped()) << "a member had two deliveries in flight at once";
  auto got = hook.arrivals();
  ASSERT_EQ(got.size(), 20u);
  for (int m = 0; m < 20; ++m) {
    std::vector<std::string> want;
    for (int k = 0; k < 5; ++k) want.push_back(eventOf(m, k));
    EXPECT_EQ(got["M" + std::to_string(m)], want) << "M" << m;
  }
  EXPECT_EQ(queued(), 0);
}

// Under concurrency a failed delivery still holds back its member's later ones (not even
// tried), while the other members' go on; once it is back, the member's go in order.
TEST_F(TargetDeliveryTest, AFailingMemberIsHeldBackWhileTheOthersAreDeliveredConcurrently) {
  opts.concurrency = 4;
  ConcurrentWebhook hook(4);
  hook.failing = {eventOf(0, 1)};  // M0's second delivery fails
  webhookClient = &hook;
  make();
  sendDeliveries(8, 3);
  EXPECT_EQ(processOnce(), 22u);  // all but M0's e1 (retried) and e2 (held behind it)
  EXPECT_EQ(hook.maxInFlight(), 4);
  auto got = hook.arrivals();
  EXPECT_EQ(got["M0"], (std::vector<std::string>{eventOf(0, 0), eventOf(0, 1)}));
  for (int m = 1; m < 8; ++m) {
    EXPECT_EQ(got["M" + std::to_string(m)],
              (std::vector<std::string>{eventOf(m, 0), eventOf(m, 1), eventOf(m, 2)}))
        << "M" << m;
  }
  EXPECT_EQ(inReal->stats()->inFlight, 1);  // the retried one; the held one is visible ...
  EXPECT_EQ(processOnce(), 0u);             // ... but waits behind it
  EXPECT_EQ(hook.arrivals()["M0"].size(), 2u);

  hook.failing.clear();
  clock.advance(opts.backoff.capMs);
  EXPECT_EQ(processOnce(), 2u);
  EXPECT_EQ(hook.arrivals()["M0"],
            (std::vector<std::string>{eventOf(0, 0), eventOf(0, 1), eventOf(0, 1), eventOf(0, 2)}));
  EXPECT_EQ(queued(), 0);
  EXPECT_TRUE(dlq->peek(10)->empty());
}

TEST_F(TargetDeliveryTest, AQueueTargetKeepsPerMemberOrderUnderConcurrency) {
  target.kind = TargetConfig::Kind::kQueue;
  target.queue = "audit";
  opts.concurrency = 4;
  make();
  sendDeliveries(10, 4);
  EXPECT_EQ(processOnce(), 40u);
  std::map<std::string, std::vector<std::string>> got;
  for (const auto& m : *audit->peek(100)) got[m.groupId].push_back(m.attributes.at("eventId"));
  ASSERT_EQ(got.size(), 10u);
  for (int m = 0; m < 10; ++m) {
    std::vector<std::string> want;
    for (int k = 0; k < 4; ++k) want.push_back(eventOf(m, k));
    EXPECT_EQ(got["M" + std::to_string(m)], want) << "M" << m;
  }
}

TEST_F(TargetDeliveryTest, AQueueTargetSendsThePayloadToItsQueue) {
  target.kind = TargetConfig::Kind::kQueue;
  target.queue = "audit";
  make();
  ASSERT_TRUE(inReal->send({delivery("e1", "M1", "crm")}).isOk());
  EXPECT_EQ(processOnce(), 1u);
  auto got = *audit->peek(10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].groupId, "M1");
  EXPECT_EQ(got[0].dedupId, "e1/r1/crm");
  EXPECT_EQ(got[0].attributes.at("eventId"), "e1");
  EXPECT_EQ(json::parse(got[0].body), json::parse(R"({"memberId":"M1","eventId":"e1"})"));

  target.queue = "missing";
  make();
  ASSERT_TRUE(inReal->send({delivery("e2", "M2", "crm")}).isOk());
  EXPECT_EQ(processOnce(), 0u);
  EXPECT_EQ((*dlq->peek(10))[0].attributes.at("reason"), "unknown_queue");
}

TEST_F(TargetDeliveryTest, ABusTargetPutsTheEventItselfOnTheOtherBus) {
  target.kind = TargetConfig::Kind::kBus;
  target.bus = "partner";
  make();
  ASSERT_TRUE(inReal->send({delivery("e1", "M1", "crm", true)}).isOk());
  EXPECT_EQ(processOnce(), 1u);
  auto got = partner.got();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].eventId, "e1");
  EXPECT_EQ(got[0].detailType, "member.updated");
  EXPECT_EQ(got[0].detail, R"({"id":"e1"})");
  EXPECT_EQ(got[0].groupId, "M1");

  target.bus = "nowhere";
  make();
  ASSERT_TRUE(inReal->send({delivery("e2", "M2", "crm", true)}).isOk());
  EXPECT_EQ(processOnce(), 0u);
  EXPECT_EQ((*dlq->peek(10))[0].attributes.at("reason"), "unknown_bus");
}

// The record reconcile joins on: the CloudEvent's id (not the queue message's), the member, the
// rule, the time; the batch's deliveries in one record() call.
TEST_F(TargetDeliveryTest, SuccessfulDeliveriesAreRecordedWithTheEventIdMemberAndRule) {
  deliveries = &deliveryLog;
  make();
  ASSERT_TRUE(inReal->send({delivery("e1", "M1", "crm"), delivery("e2", "M2", "crm")}).isOk());
  EXPECT_EQ(processOnce(), 2u);
  EXPECT_EQ(deliveryLog.records.calls(), 1);
  auto got = *logReal->scan(0, 10);
  ASSERT_EQ(got.size(), 2u);
  std::set<std::string> pairs;
  for (const auto& r : got) {
    pairs.insert(r.target + "/" + r.eventId + " " + r.memberId + " " + r.rule);
    EXPECT_EQ(r.deliveredAtMs, clock.nowMs());
  }
  EXPECT_EQ(pairs, (std::set<std::string>{"crm/e1 M1 r1", "crm/e2 M2 r1"}));
  EXPECT_EQ(*logReal->delivered({{"crm", "e1"}, {"crm", "e2"}}), (std::vector<bool>{true, true}));
  EXPECT_EQ(queued(), 0);
}

TEST_F(TargetDeliveryTest, ABusTargetsDeliveryIsRecordedUnderTheEventsId) {
  target.kind = TargetConfig::Kind::kBus;
  target.bus = "partner";
  deliveries = &deliveryLog;
  make();
  ASSERT_TRUE(inReal->send({delivery("e1", "M1", "crm", true)}).isOk());
  EXPECT_EQ(processOnce(), 1u);
  EXPECT_EQ(recorded(), std::vector<std::string>{"crm/e1 M1 r1 1"});
}

// Only what reached the target: a dead letter is in the DLQ instead, a retried one not yet.
TEST_F(TargetDeliveryTest, DeadLetteredAndRetriedDeliveriesAreNotRecorded) {
  deliveries = &deliveryLog;
  make();
  http.script["hook"] = {ScriptedHttp::status(400), ScriptedHttp::status(200),
                         ScriptedHttp::status(503)};
  ASSERT_TRUE(inReal
                  ->send({delivery("e1", "M1", "crm"), delivery("e2", "M1", "crm"),
                          delivery("e3", "M1", "crm")})
                  .isOk());
  EXPECT_EQ(processOnce(), 1u);
  EXPECT_EQ(deliveredEventIds(), (std::vector<std::string>{"e1", "e2", "e3"}));
  EXPECT_EQ(recorded(), std::vector<std::string>{"crm/e2 M1 r1 1"});
  EXPECT_EQ(dlq->peek(10)->size(), 1u);
  EXPECT_EQ(inReal->stats()->inFlight, 1);  // e3, retried later
}

// A record that fails fails the batch: nothing leaves the queue, and the deliveries come back
// after their visibility timeout, are delivered again and recorded then.
TEST_F(TargetDeliveryTest, AFailedRecordLeavesTheBatchInTheQueueToComeBack) {
  deliveries = &deliveryLog;
  make();
  deliveryLog.records.failNext(1);
  ASSERT_TRUE(inReal->send({delivery("e1", "M1", "crm"), delivery("e2", "M2", "crm")}).isOk());
  auto n = stage->processOnce(0);
  ASSERT_FALSE(n.isOk());
  EXPECT_EQ(n.status().code(), Code::kUnavailable);
  EXPECT_EQ(in.removes.calls(), 0);
  EXPECT_EQ(inReal->stats()->inFlight, 2);
  EXPECT_TRUE(recorded().empty());
  clock.advance(opts.visibilityMs);
  EXPECT_EQ(processOnce(), 2u);
  EXPECT_EQ(http.sentTo("/hook").size(), 4u);  // at least once: each delivered twice
  std::vector<std::string> got = recorded();
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()),
            (std::set<std::string>{"crm/e1 M1 r1 1", "crm/e2 M2 r1 1"}));
  EXPECT_EQ(queued(), 0);
}

// Recorded before removed: when the remove fails (a crash between the two), the record is
// already durable, and the redelivery records the same pair again without a second row.
TEST_F(TargetDeliveryTest, ADeliveryIsRecordedBeforeItsRemoveAndARedeliveryKeepsOneRow) {
  deliveries = &deliveryLog;
  make();
  in.removes.failNext(1);
  ASSERT_TRUE(inReal->send({delivery("e1", "M1", "crm")}).isOk());
  ASSERT_FALSE(stage->processOnce(0).isOk());
  EXPECT_EQ(recorded(), std::vector<std::string>{"crm/e1 M1 r1 1"});
  EXPECT_EQ(inReal->stats()->inFlight, 1);
  clock.advance(opts.visibilityMs);
  EXPECT_EQ(processOnce(), 1u);
  EXPECT_EQ(recorded(), std::vector<std::string>{"crm/e1 M1 r1 2"});
  EXPECT_EQ(queued(), 0);
}

TEST_F(TargetDeliveryTest, IdlePollingWaitsInTheReceiveAndNeverBacksOff) {
  start();
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(clock.waitForSleepers(1, kStep)) << i;
    EXPECT_EQ(in.receives.calls(), i);  // one receive per wait: no spinning
    clock.advance(opts.waitMs);
  }
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  EXPECT_EQ(clock.sleeps(), std::vector<milliseconds>(6, milliseconds(opts.waitMs)));
  for (int64_t w : in.receiveWaits()) EXPECT_EQ(w, opts.waitMs);
  EXPECT_TRUE(http.sentTo("/hook").empty());
  ASSERT_TRUE(loop.stop(kStep));
}

TEST_F(TargetDeliveryTest, AQueueOutageBacksOffWithFullJitterThenDelivers) {
  ASSERT_TRUE(inReal->send({delivery("e1", "M1", "crm")}).isOk());
  in.receives.failNext(4);
  auto expected = jitterDelays(opts.backoff, opts.jitterSeed, 4);
  start();
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_GT(expected[i].count(), 0) << "choose a seed without zero delays";
    ASSERT_TRUE(clock.waitForSleepers(1, kStep)) << i;
    ASSERT_EQ(clock.sleeps().size(), i + 1);
    EXPECT_EQ(clock.sleeps()[i], expected[i]) << "failure " << i + 1;
    EXPECT_LE(clock.sleeps()[i].count(), jitterCeiling(opts.backoff, static_cast<int>(i) + 1));
    clock.advance(expected[i]);
  }
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));  // delivered, then waiting in the receive again
  EXPECT_EQ(clock.sleeps().back(), milliseconds(opts.waitMs));
  EXPECT_EQ(deliveredEventIds(), std::vector<std::string>{"e1"});
  EXPECT_EQ(queued(), 0);
  ASSERT_TRUE(loop.stop(kStep));
}

TEST_F(TargetDeliveryTest, AStopDuringABackoffEndsRunAtOnce) {
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
