// The ingest stage over the embedded adapters, with a forwarding queue that fails on demand.
#include "stages/ingest.h"

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <stdexcept>

#include "adapters/embedded/dir_object_store.h"
#include "adapters/embedded/source_log.h"
#include "adapters/embedded/sqlite_ledger.h"
#include "adapters/embedded/sqlite_queue.h"
#include "common/gzip.h"
#include "common/metrics.h"
#include "domain/change_command.h"
#include "support/fault_injection.h"
#include "support/stage_loop.h"
#include "support/test_support.h"

namespace memberflow {
namespace {

using testing::FlakyQueue;
using testing::FlakySource;
using testing::FlakyStore;
using testing::jitterCeiling;
using testing::jitterDelays;
using testing::kStep;
using testing::LoopThread;
using testing::ManualClock;
using testing::TempDir;
namespace emb = memberflow::embedded;

std::string row(const std::string& id, const std::string& last) {
  return R"({"member_id":")" + id + R"(","first_name":"Ada","last_name":")" + last +
         R"(","birth_date":7335,"gender":"F","status":"A"})";
}
std::string env(const std::string& op, const std::string& after, int64_t lsn) {
  return R"({"before":null,"after":)" + after + R"(,"source":{"name":"core","ts_ms":1,"lsn":)" +
         std::to_string(lsn) + R"(},"op":")" + op + R"("})";
}

class IngestTest : public ::testing::Test {
 protected:
  TempDir dir;
  ManualClock clock;
  std::unique_ptr<emb::SourceLog> log =
      *emb::SourceLog::open(dir.file("s.db"), "member.changes", 2, "ingest");
  emb::DirObjectStore objects{dir.file("objects")};
  std::unique_ptr<emb::SqliteLedger> ledger = *emb::SqliteLedger::open(dir.file("l.db"), 3600000);
  std::shared_ptr<emb::SqliteQueueStore> queues =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  std::unique_ptr<Queue> changesReal = queues->queue("changes", {});
  std::unique_ptr<Queue> dlq = queues->queue("ingest-dlq", {});
  FlakyQueue changes{*changesReal};
  IngestStage stage{*log, objects, *ledger, changes, *dlq, clock, {}};

  std::vector<SourceRecord> pollAll() {
    auto b = log->poll(1000, std::chrono::milliseconds(0));
    return b.isOk() ? *b : std::vector<SourceRecord>{};
  }
};

TEST_F(IngestTest, ArchivesLedgersEnqueuesAndDeadLetters) {
  ASSERT_TRUE(
      log->append({{R"({"member_id":"M1"})", env("c", row("M1", "A"), 1), {}, 0, {}},
                   {R"({"member_id":"M1"})", env("c", row("M1", "A"), 1), {}, 0, {}},  // dup
                   {R"({"member_id":"M2"})", "{broken", {}, 0, {}},
                   {R"({"member_id":"M1"})", std::nullopt, {}, 0, {}},
                   {R"({"member_id":"M3"})", env("u", row("M3", "C"), 2), {}, 1, {}}})
          .isOk());
  auto batch = pollAll();
  ASSERT_EQ(batch.size(), 5u);
  auto rep = stage.process(batch);
  ASSERT_TRUE(rep.isOk()) << rep.status().toString();
  EXPECT_EQ(rep->enqueued, 2u);
  EXPECT_EQ(rep->duplicates, 1u);
  EXPECT_EQ(rep->rejected, 1u);
  EXPECT_EQ(rep->skipped, 1u);
  EXPECT_EQ(rep->nextOffsets.at(0), 4);
  EXPECT_EQ(rep->nextOffsets.at(1), 1);

  // The raw archive holds every record, one line each, under offset-derived keys.
  auto keys = objects.list("raw/member.changes/");
  ASSERT_TRUE(keys.isOk());
  ASSERT_EQ(keys->size(), 2u);
  auto text = gzipDecompress(*objects.get((*keys)[0]));
  ASSERT_TRUE(text.isOk());
  EXPECT_EQ(std::count(text->begin(), text->end(), '\n'), 4);
  EXPECT_NE(text->find("{broken"), std::string::npos);

  // Commands carry lineage to the archived line.
  auto cmds = changesReal->receive(10, 1000, 0);
  ASSERT_EQ(cmds->size(), 2u);
  auto cmd = parseCommand((*cmds)[0].body, 30000);
  ASSERT_TRUE(cmd.isOk());
  EXPECT_EQ(cmd->lineage.archiveKey, (*keys)[0]);
  EXPECT_EQ(cmd->lineage.archiveLine, 1);

  // The reject has its reason and coordinates; the ledger knows every outcome.
  auto dead = dlq->peek(10);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].attributes.at("reason"), "malformed_json");
  EXPECT_EQ((*dead)[0].attributes.at("offset"), "2");
  EXPECT_EQ((*dead)[0].groupId, "M2");
  EXPECT_EQ(ledger->get("core:1")->outcome.outcome, MessageOutcome::kEnqueued);
}

TEST_F(IngestTest, AFailedEnqueueLeavesClaimsPendingAndTheRetryCompletesThem) {
  ASSERT_TRUE(
      log->append({{R"({"member_id":"M1"})", env("c", row("M1", "A"), 7), {}, 0, {}}}).isOk());
  auto batch = pollAll();
  changes.sends.failNext(1);
  auto first = stage.process(batch);
  EXPECT_EQ(first.status().code(), Code::kUnavailable);
  EXPECT_EQ(ledger->get("core:7")->completedAtMs, 0);  // claimed, not done
  // Redelivery (nothing was committed) processes it again instead of skipping it.
  ASSERT_TRUE(log->rewindToCommitted().isOk());
  auto again = stage.process(pollAll());
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(again->enqueued, 1u);
  EXPECT_GT(ledger->get("core:7")->completedAtMs, 0);
  EXPECT_EQ(changesReal->receive(10, 1000, 0)->size(), 1u);
}

// An object store that throws from putAll (a bug in an adapter): the put runs on a thread of
// its own while the records are decoded, and the exception still reaches prepare()'s caller
// (the supervisor reports the stage failed) instead of ending the process; nothing is claimed.
class ThrowingStore final : public ObjectStore {
 public:
  Status put(const std::string&, const std::string&, const PutOptions&) override {
    throw std::runtime_error("adapter bug");
  }
  std::vector<Status> putAll(const std::vector<ObjectPut>&, const PutOptions&) override {
    throw std::runtime_error("adapter bug");
  }
  Result<std::string> get(const std::string& key) override {
    return Status::notFound("no object " + key);
  }
  Result<std::vector<std::string>> list(const std::string&) override {
    return std::vector<std::string>{};
  }
};

TEST_F(IngestTest, AnExceptionOfTheArchivePutReachesTheCaller) {
  ASSERT_TRUE(
      log->append({{R"({"member_id":"M1"})", env("c", row("M1", "A"), 5), {}, 0, {}}}).isOk());
  ThrowingStore throwing;
  IngestStage s{*log, throwing, *ledger, changes, *dlq, clock, {}};
  EXPECT_THROW((void)s.process(pollAll()), std::runtime_error);
  EXPECT_EQ(ledger->get("core:5").status().code(), Code::kNotFound);
  EXPECT_EQ(changesReal->stats()->visible, 0);
}

TEST_F(IngestTest, ReprocessingADoneBatchChangesNothing) {
  ASSERT_TRUE(
      log->append({{R"({"member_id":"M1"})", env("c", row("M1", "A"), 9), {}, 0, {}}}).isOk());
  auto batch = pollAll();
  ASSERT_TRUE(stage.process(batch).isOk());
  auto again = stage.process(batch);
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(again->enqueued, 0u);
  EXPECT_EQ(again->duplicates, 1u);
  EXPECT_EQ(changesReal->stats()->visible, 1);
}

TEST_F(IngestTest, RedriveEnqueuesARecordThatIsValidNow) {
  ASSERT_TRUE(
      log->append({{R"({"member_id":"M9"})", env("c", row("M9", "Z"), 3), {}, 0, {}}}).isOk());
  auto batch = pollAll();
  // Build the DLQ body as ingest would have for a rejected record.
  json::object body{{"reason", "x"},
                    {"lineage", lineageJson({"member.changes", 0, 0, "raw/k", 1})},
                    {"record", json::parse(rawArchiveLine(batch[0]))}};
  ASSERT_TRUE(stage.redrive(json::serialize(body)).isOk());
  EXPECT_EQ(changesReal->stats()->visible, 1);
  body["record"].as_object()["value"] = "{still broken";
  EXPECT_EQ(stage.redrive(json::serialize(body)).code(), Code::kFailedPrecondition);
}

TEST(RawArchive, KeysDeriveFromCoordinatesAndBinaryIsBase64) {
  EXPECT_EQ(rawArchiveKey("t", 3, 10, 20, 1767225600000),
            "raw/t/dt=2026-01-01/p=3/00000000000000000010-00000000000000000020.ndjson.gz");
  SourceRecord r;
  r.key = std::string("\xff\x01", 2);
  r.value = "{}";
  auto line = json::parse(rawArchiveLine(r)).as_object();
  EXPECT_EQ(line.at("keyEncoding").as_string(), "base64");
  EXPECT_EQ(line.at("value").as_string(), "{}");
}

// run() on its own thread, over the embedded adapters behind fault-injecting wrappers, with a
// ManualClock: the source's poll waits on that clock, so the test steps the loop through its
// sleeps and sees each one it asks for.
class IngestRunTest : public ::testing::Test {
 protected:
  TempDir dir;
  ManualClock clock;
  std::unique_ptr<emb::SourceLog> log =
      *emb::SourceLog::open(dir.file("s.db"), "member.changes", 2, "ingest");
  emb::DirObjectStore objectsReal{dir.file("objects")};
  std::unique_ptr<emb::SqliteLedger> ledger = *emb::SqliteLedger::open(dir.file("l.db"), 3600000);
  std::shared_ptr<emb::SqliteQueueStore> queues =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  std::unique_ptr<Queue> changes = queues->queue("changes", {});
  std::unique_ptr<Queue> dlq = queues->queue("ingest-dlq", {});
  FlakyQueue flakyChanges{*changes};
  FlakySource source{*log};
  FlakyStore objects{objectsReal};
  IngestOptions opts = [] {
    IngestOptions o;
    o.backoff = {100, 10000, 0};
    o.jitterSeed = 42;
    return o;
  }();
  std::unique_ptr<IngestStage> stage;
  LoopThread loop;  // declared last: joined before the rest goes

  void start() {
    stage =
        std::make_unique<IngestStage>(source, objects, *ledger, flakyChanges, *dlq, clock, opts);
    source.waitOn(clock, loop.token());
    loop.start([this](std::stop_token t) { stage->run(t); });
  }
  static double retried() { return Metrics::instance().records("ingest", "retried").Value(); }
  // Creates of members M1..Mn, in that order, all on partition 0.
  void appendMembers(int n) {
    std::vector<ProduceRecord> records;
    for (int i = 1; i <= n; ++i) {
      std::string id = "M" + std::to_string(i);
      records.push_back({R"({"member_id":")" + id + R"("})", env("c", row(id, "A"), i), {}, 0, {}});
    }
    ASSERT_TRUE(log->append(records).isOk());
  }
  // The member of every message on the changes queue, in queue order.
  std::vector<std::string> enqueuedMembers() {
    std::vector<std::string> out;
    auto got = changes->receive(100, 60000, 0);
    EXPECT_TRUE(got.isOk());
    if (got.isOk()) {
      for (const auto& m : *got) out.push_back(m.groupId);
    }
    return out;
  }
};

TEST_F(IngestRunTest, IdlePollingWaitsInThePollAndNeverBacksOff) {
  double retriedBefore = retried();
  start();
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(clock.waitForSleepers(1, kStep)) << i;
    EXPECT_EQ(source.polls.calls(), i);  // one poll per wait while time stands still: no spinning
    clock.advance(opts.pollWait);
  }
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  // Every sleep was the poll's own wait: nothing backed off.
  EXPECT_EQ(clock.sleeps(), std::vector<std::chrono::milliseconds>(6, opts.pollWait));
  EXPECT_EQ(retried(), retriedBefore);
  EXPECT_TRUE(source.committed().empty());
  ASSERT_TRUE(loop.stop(kStep));
}

TEST_F(IngestRunTest, AnOutageBacksOffWithFullJitterThenTheBatchGoesThroughOnce) {
  ASSERT_TRUE(log->append({{R"({"member_id":"M1"})", env("c", row("M1", "A"), 1), {}, 0, {}},
                           {R"({"member_id":"M2"})", env("c", row("M2", "B"), 2), {}, 0, {}}})
                  .isOk());
  objects.puts.failNext(4);  // the object store is down for four batches
  auto expected = jitterDelays(opts.backoff, opts.jitterSeed, 4);
  double retriedBefore = retried();
  start();
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_GT(expected[i].count(), 0) << "choose a seed without zero delays";
    ASSERT_TRUE(clock.waitForSleepers(1, kStep)) << i;
    ASSERT_EQ(clock.sleeps().size(), i + 1);
    EXPECT_EQ(clock.sleeps()[i], expected[i]) << "failure " << i + 1;
    EXPECT_LE(clock.sleeps()[i].count(), jitterCeiling(opts.backoff, static_cast<int>(i) + 1));
    EXPECT_TRUE(source.committed().empty());  // nothing committed during the outage
    clock.advance(expected[i]);
  }
  // The store is back: the rewound batch is archived, enqueued and committed once; then the
  // stage waits in its poll again.
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  EXPECT_EQ(clock.sleeps().back(), opts.pollWait);
  EXPECT_EQ(source.committed(), (std::vector<std::map<int32_t, int64_t>>{{{0, 2}}}));
  EXPECT_EQ(source.rewinds.calls(), 4);
  EXPECT_EQ(objects.puts.calls(), 5);
  EXPECT_EQ(changes->stats()->visible, 2);
  EXPECT_EQ(retried() - retriedBefore, 4.0);
  ASSERT_TRUE(loop.stop(kStep));
}

// run() prepares the next batch while it finishes the current one. A failure in a finish drops
// the batch prepared behind it; the rewind polls both again, and every record is still
// enqueued once, in order, with offsets committed batch by batch.
TEST_F(IngestRunTest, OverlappedBatchesAfterAFailedFinishEnqueueEachRecordOnceInOrder) {
  appendMembers(8);
  opts.maxBatch = 4;  // batches of two: the log gives each of its two partitions half a poll
  flakyChanges.sends.failCall(2);  // the second batch's enqueue fails once
  auto expected = jitterDelays(opts.backoff, opts.jitterSeed, 1);
  ASSERT_GT(expected[0].count(), 0) << "choose a seed without zero delays";
  start();
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  ASSERT_EQ(clock.sleeps(), std::vector<std::chrono::milliseconds>{expected[0]});
  EXPECT_EQ(source.committed(), (std::vector<std::map<int32_t, int64_t>>{{{0, 2}}}));
  // Batches 1, 2 and 3 were archived: the third while the second was being finished.
  EXPECT_EQ(objects.puts.calls(), 3);
  clock.advance(expected[0]);
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  EXPECT_EQ(clock.sleeps().back(), opts.pollWait);  // all done: waiting in the poll again
  EXPECT_EQ(source.committed(),
            (std::vector<std::map<int32_t, int64_t>>{{{0, 2}}, {{0, 4}}, {{0, 6}}, {{0, 8}}}));
  EXPECT_EQ(source.rewinds.calls(), 1);
  EXPECT_EQ(objects.puts.calls(), 6);  // batch 3's first archive was dropped with it
  EXPECT_EQ(enqueuedMembers(),
            (std::vector<std::string>{"M1", "M2", "M3", "M4", "M5", "M6", "M7", "M8"}));
  ASSERT_TRUE(loop.stop(kStep));
}

// A rebalance inside the poll of batch 2 revokes partitions while batch 1 is prepared: batch 1
// is not finished (another consumer may own its records now) and the source is rewound, with
// no backoff; everything then goes through once.
TEST_F(IngestRunTest, ARevocationDropsThePreparedBatchWithoutBackingOff) {
  appendMembers(6);
  opts.maxBatch = 4;  // batches of two: the log gives each of its two partitions half a poll
  source.revokeAtPoll(2);
  double retriedBefore = retried();
  start();
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  // The only sleep is the poll's wait once all is done: nothing backed off.
  EXPECT_EQ(clock.sleeps(), std::vector<std::chrono::milliseconds>{opts.pollWait});
  EXPECT_EQ(retried(), retriedBefore);
  EXPECT_EQ(source.rewinds.calls(), 1);
  EXPECT_EQ(source.committed(),
            (std::vector<std::map<int32_t, int64_t>>{{{0, 2}}, {{0, 4}}, {{0, 6}}}));
  EXPECT_EQ(objects.puts.calls(), 4);  // batch 1 twice, then batches 2 and 3
  EXPECT_EQ(enqueuedMembers(), (std::vector<std::string>{"M1", "M2", "M3", "M4", "M5", "M6"}));
  ASSERT_TRUE(loop.stop(kStep));
}

// A batch over both partitions whose second archive object fails: nothing of it is claimed or
// enqueued and nothing committed; the retry archives both and sends each change once.
TEST_F(IngestRunTest, OneFailedArchiveObjectHoldsBackTheWholeBatch) {
  ASSERT_TRUE(log->append({{R"({"member_id":"M1"})", env("c", row("M1", "A"), 1), {}, 0, {}},
                           {R"({"member_id":"M2"})", env("c", row("M2", "B"), 2), {}, 1, {}}})
                  .isOk());
  objects.puts.failCall(2);  // the batch's second object, partition 1's
  start();
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  EXPECT_TRUE(source.committed().empty());
  EXPECT_EQ(changes->stats()->visible, 0);
  EXPECT_EQ(ledger->get("core:1").status().code(), Code::kNotFound);
  ASSERT_EQ(objectsReal.list("raw/")->size(), 1u);  // partition 0's object was written
  clock.advance(clock.sleeps().back());
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  EXPECT_EQ(clock.sleeps().back(), opts.pollWait);
  EXPECT_EQ(source.committed(), (std::vector<std::map<int32_t, int64_t>>{{{0, 1}, {1, 1}}}));
  EXPECT_EQ(objects.puts.calls(), 4);
  std::vector<std::string> members = enqueuedMembers();
  std::sort(members.begin(), members.end());
  EXPECT_EQ(members, (std::vector<std::string>{"M1", "M2"}));
  ASSERT_TRUE(loop.stop(kStep));
}

// An object store whose first put waits until the test opens the gate.
class GatedStore final : public ObjectStore {
 public:
  explicit GatedStore(ObjectStore& s) : s_(s) {}
  std::promise<void> entered, gate;
  Status put(const std::string& key, const std::string& data, const PutOptions& o) override {
    std::call_once(first_, [&] {
      entered.set_value();
      gate.get_future().wait();
    });
    return s_.put(key, data, o);
  }
  Result<std::string> get(const std::string& key) override { return s_.get(key); }
  Result<std::vector<std::string>> list(const std::string& prefix) override {
    return s_.list(prefix);
  }

 private:
  ObjectStore& s_;
  std::once_flag first_;
};

// A stop while a batch is being prepared: the batch is finished and committed on the way out,
// not dropped to be polled and archived again at the next start.
TEST_F(IngestRunTest, AStopFinishesAndCommitsThePreparedBatch) {
  ASSERT_TRUE(
      log->append({{R"({"member_id":"M1"})", env("c", row("M1", "A"), 1), {}, 0, {}}}).isOk());
  GatedStore gated{objectsReal};
  stage = std::make_unique<IngestStage>(source, gated, *ledger, flakyChanges, *dlq, clock, opts);
  source.waitOn(clock, loop.token());
  loop.start([this](std::stop_token t) { stage->run(t); });
  ASSERT_EQ(gated.entered.get_future().wait_for(kStep), std::future_status::ready);
  EXPECT_FALSE(loop.stop(std::chrono::milliseconds(0)));  // stop requested mid-prepare
  gated.gate.set_value();
  ASSERT_TRUE(loop.stop(kStep));
  EXPECT_EQ(source.committed(), (std::vector<std::map<int32_t, int64_t>>{{{0, 1}}}));
  EXPECT_EQ(changes->stats()->visible, 1);
}

TEST_F(IngestRunTest, AStopDuringABackoffEndsRunAtOnce) {
  source.polls.failAlways();
  opts.backoff = {60000, 600000, 0};  // minutes of backoff, on a clock that never moves
  start();
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  int polls = source.polls.calls();
  EXPECT_GE(polls, 1);
  auto before = clock.monotonicNow();
  ASSERT_TRUE(loop.stop(kStep));  // woken by the stop, not by time
  EXPECT_EQ(clock.monotonicNow(), before);
  EXPECT_EQ(source.polls.calls(), polls);  // and nothing polled after it
}

}  // namespace
}  // namespace memberflow
