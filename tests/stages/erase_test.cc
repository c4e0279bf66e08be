// `memberflow erase` (stages/erase.h) over the embedded adapters: the member's archive lines,
// lake events (written and staged), DLQ entries and held changes go, every other member's stay,
// and a pipeline with work in its queues is refused.
#include "stages/erase.h"

#include <gtest/gtest.h>

#include "adapters/embedded/dir_object_store.h"
#include "adapters/embedded/sqlite_lake_journal.h"
#include "adapters/embedded/sqlite_member_store.h"
#include "adapters/embedded/sqlite_parking_store.h"
#include "adapters/embedded/sqlite_queue.h"
#include "common/gzip.h"
#include "stages/ingest.h"
#include "support/test_support.h"

namespace memberflow {
namespace {

using testing::ManualClock;
using testing::TempDir;
namespace emb = memberflow::embedded;

SourceRecord record(int64_t offset, const std::string& keyMember, const std::string& rowMember,
                    const std::string& email) {
  SourceRecord r;
  r.topic = "member.changes";
  r.partition = 1;
  r.offset = offset;
  r.timestampMs = 1767225600000 + offset;
  r.key = R"({"member_id":")" + keyMember + R"("})";
  r.value =
      R"({"op":"c","before":null,"source":{"name":"core","lsn":)" + std::to_string(offset) +
      R"(,"ts_ms":1},"after":{"member_id":")" + rowMember +
      R"(","first_name":"Ada","last_name":"Lovelace","birth_date":"1990-01-31","gender":"F","status":"A","email":")" +
      email + R"("}})";
  return r;
}

std::string event(const std::string& id, const std::string& member, const std::string& email) {
  return R"({"specversion":"1.0","id":")" + id +
         R"(","source":"memberflow/member-api","type":"member.updated","subject":")" + member +
         R"(","time":"2026-11-24T13:29:16.853Z","data":{"member":{"contact":{"email":")" + email +
         R"("}},"version":1}})";
}

std::vector<std::string> linesOf(const std::string& gz) {
  std::string text = *gzipDecompress(gz);
  std::vector<std::string> out;
  for (size_t p = 0, n; (n = text.find('\n', p)) != std::string::npos; p = n + 1)
    out.push_back(text.substr(p, n - p));
  return out;
}

std::string ndjsonGz(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  return *gzipCompress(text);
}

// A queue that answers as SQS's short poll may (a receive waiting under a second: WaitTimeSeconds
// is whole seconds): from only some of its servers, so empty while entries remain. Here every
// other short poll answers empty; a long poll answers from the queue.
class ShortPollingQueue final : public Queue {
 public:
  explicit ShortPollingQueue(Queue& q) : q_(q) {}
  const std::string& name() const override { return q_.name(); }
  Status send(const std::vector<OutgoingMessage>& m) override { return q_.send(m); }
  Result<std::vector<ReceivedMessage>> receive(size_t n, int64_t v, int64_t w) override {
    if (w < 1000 && shortPolls_++ % 2 == 0) return std::vector<ReceivedMessage>{};
    return q_.receive(n, v, w);
  }
  Status remove(const std::vector<std::string>& r) override { return q_.remove(r); }
  Status changeVisibility(const std::string& r, int64_t v) override {
    return q_.changeVisibility(r, v);
  }
  Result<QueueStats> stats() override { return q_.stats(); }
  Result<std::vector<ReceivedMessage>> peek(size_t n) override { return q_.peek(n); }

 private:
  Queue& q_;
  int shortPolls_ = 0;
};

class EraseTest : public ::testing::Test {
 protected:
  TempDir dir;
  ManualClock clock;
  emb::DirObjectStore objects{dir.file("objects")};
  std::unique_ptr<emb::SqliteMemberStore> members =
      *emb::SqliteMemberStore::open(dir.file("members.db"), {});
  std::unique_ptr<emb::SqliteLakeJournal> journal =
      *emb::SqliteLakeJournal::open(dir.file("lake.db"));
  std::unique_ptr<emb::SqliteParkingStore> parking =
      *emb::SqliteParkingStore::open(dir.file("parking.db"));
  std::shared_ptr<emb::SqliteQueueStore> queues =
      *emb::SqliteQueueStore::open(dir.file("q.db"), clock);
  std::unique_ptr<Queue> changes = queues->queue("changes", {});
  std::unique_ptr<Queue> dlq = queues->queue("changes-dlq", {});
  const std::string rawKey = "raw/member.changes/dt=2026-01-01/p=1/0-3.ndjson.gz";
  const std::string lakeKey = "lake/member-events/dt=2026-11-24/hr=13/w-1-3.ndjson.gz";
  std::vector<SourceRecord> recs = {record(0, "M1", "M1", "m1-first@example.org"),
                                    record(1, "M2", "M2", "m2@example.org"),
                                    record(2, "M1", "M1", "m1-second@example.org"),
                                    // a key mismatch: M2's key, M1's row (rejected by ingest)
                                    record(3, "M2", "M1", "m1-third@example.org")};

  void SetUp() override {
    std::vector<std::string> raw;
    for (const auto& r : recs) raw.push_back(rawArchiveLine(r));
    ASSERT_TRUE(objects.put(rawKey, ndjsonGz(raw), {}).isOk());
    ASSERT_TRUE(objects
                    .put(lakeKey,
                         ndjsonGz({event("e1", "M1", "m1-first@example.org"),
                                   event("e2", "M2", "m2@example.org")}),
                         {})
                    .isOk());
    ASSERT_TRUE(journal
                    ->stage({"lake/staged-4-4.ndjson.gz",
                             ndjsonGz({event("e4", "M1", "m1-second@example.org")})},
                            {"e4"})
                    .isOk());
    // Two dead letters of M1 in its FIFO group, M2's behind them.
    ASSERT_TRUE(dlq->send({{"M1", "d1", R"({"messageId":"x1","memberId":"M1"})", {}},
                           {"M2", "d2", R"({"messageId":"x2","memberId":"M2"})", {}},
                           {"M1", "d3", R"({"messageId":"x4","memberId":"M1"})", {}},
                           {"M2", "d4", R"({"messageId":"x5","memberId":"M2"})", {}}})
                    .isOk());
    ASSERT_TRUE(parking->park("M1", "x1", "http_422", 1).isOk());
    ASSERT_TRUE(parking->hold("M1", {{0, "x3", "{\"memberId\":\"M1\"}", {}, 0}}, 1).isOk());
  }

  EraseTargets targets() {
    EraseTargets t;
    t.members = members.get();
    t.objects = &objects;
    t.journal = journal.get();
    t.parking = parking.get();
    t.dlqs = {dlq.get()};
    t.working = {changes.get()};
    return t;
  }
  EraseOptions options() {
    EraseOptions o;
    o.memberId = "M1";
    o.reason = "test";
    o.nowMs = 1767225700000;
    o.topic = "member.changes";
    return o;
  }
};

TEST_F(EraseTest, RemovesTheMembersCopiesAndKeepsEveryoneElses) {
  auto report = Eraser(targets()).run(options());
  ASSERT_TRUE(report.isOk()) << report.status().toString();
  EXPECT_EQ(report->counts["archiveLines"], 3);
  EXPECT_EQ(report->counts["lakeEvents"], 2);  // one written, one staged
  EXPECT_EQ(report->counts["dlqEntries"], 2);
  EXPECT_EQ(report->counts["parkedChanges"], 1);

  // The archive: the member's lines are markers with their coordinates and message ids.
  auto raw = linesOf(*objects.get(rawKey));
  ASSERT_EQ(raw.size(), 4u);
  EXPECT_EQ(raw[1], rawArchiveLine(recs[1]));
  for (size_t i : {0u, 2u, 3u}) {
    auto o = json::parse(raw[i]).as_object();
    EXPECT_EQ(o.at("redacted").as_string(), "erased");
    EXPECT_EQ(o.at("partition").to_number<int64_t>(), 1);
    EXPECT_EQ(o.at("offset").to_number<int64_t>(), static_cast<int64_t>(i));
    EXPECT_EQ(o.at("messageId").as_string(), decodeChange(recs[i]).messageId);
    EXPECT_EQ(raw[i].find("example.org"), std::string::npos);
    EXPECT_FALSE(recordFromArchiveLine(o, "member.changes").has_value());  // replay skips it
  }
  // The lake: the event keeps id, type, subject and time; its data is gone.
  auto lake = linesOf(*objects.get(lakeKey));
  ASSERT_EQ(lake.size(), 2u);
  auto e1 = json::parse(lake[0]).as_object();
  EXPECT_EQ(e1.at("id").as_string(), "e1");
  EXPECT_EQ(e1.at("subject").as_string(), "M1");
  EXPECT_EQ(e1.at("type").as_string(), "member.updated");
  EXPECT_EQ(e1.at("time").as_string(), "2026-11-24T13:29:16.853Z");
  EXPECT_FALSE(e1.contains("data"));
  EXPECT_EQ(lake[1], event("e2", "M2", "m2@example.org"));
  auto staged = *journal->staged();
  ASSERT_EQ(staged.size(), 1u);
  EXPECT_EQ(linesOf(staged[0].content)[0].find("example.org"), std::string::npos);
  EXPECT_EQ(*journal->placed({"e4"}), std::vector<bool>{true});
  // The DLQ keeps M2's entry only; M1 is no longer parked.
  auto left = *dlq->peek(10);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].dedupId, "d2");
  EXPECT_EQ(left[1].dedupId, "d4");
  auto visible = dlq->receive(10, 1000, 0);  // visible again, in order
  ASSERT_TRUE(visible.isOk());
  ASSERT_EQ(visible->size(), 2u);
  EXPECT_EQ((*visible)[0].dedupId, "d2");
  EXPECT_FALSE((*parking->state({"M1"}))[0].has_value());
  // The audit.
  auto audit = *members->erasures("M1");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].reason, "test");
  EXPECT_EQ(audit[0].counts.at("archiveLines").to_number<int64_t>(), 3);

  // Idempotent: nothing more the second time.
  auto again = Eraser(targets()).run(options());
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(again->counts["archiveLines"], 0);
  EXPECT_EQ(again->counts["lakeEvents"], 0);
  EXPECT_EQ(again->counts["dlqEntries"], 0);
}

TEST_F(EraseTest, ReadsADlqToItsEndWhereAShortPollWouldAnswerEmpty) {
  ShortPollingQueue sqsLike(*dlq);
  auto t = targets();
  t.dlqs = {&sqsLike};
  auto report = Eraser(t).run(options());
  ASSERT_TRUE(report.isOk()) << report.status().toString();
  EXPECT_EQ(report->counts["dlqEntries"], 2);
  auto left = *dlq->peek(10);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].dedupId, "d2");
  EXPECT_EQ(left[1].dedupId, "d4");
}

TEST_F(EraseTest, RefusesWhileAWorkingQueueHoldsMessages) {
  ASSERT_TRUE(changes->send({{"M9", "c1", "{}", {}}}).isOk());
  auto report = Eraser(targets()).run(options());
  EXPECT_EQ(report.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(linesOf(*objects.get(rawKey))[0], rawArchiveLine(recs[0]));  // nothing touched
  auto forced = options();
  forced.force = true;
  EXPECT_TRUE(Eraser(targets()).run(forced).isOk());
}

TEST(EraseMatching, RecordsAndMessagesOfTheMember) {
  EXPECT_TRUE(recordOfMember(record(0, "M1", "M1", "a@b.c"), "M1"));
  EXPECT_TRUE(recordOfMember(record(0, "M2", "M1", "a@b.c"), "M1"));  // its row
  EXPECT_FALSE(recordOfMember(record(0, "M2", "M2", "a@b.c"), "M1"));
  EXPECT_FALSE(recordOfMember(record(0, "M10", "M10", "a@b.c"), "M1"));
  ReceivedMessage m;
  m.groupId = "unknown";
  m.body = R"({"record":{"key":"{\"member_id\":\"M1\"}"}})";
  EXPECT_TRUE(messageOfMember(m, "M1"));
  m.body = R"({"subject":"M1"})";
  EXPECT_TRUE(messageOfMember(m, "M1"));
  m.body = R"({"subject":"M11"})";
  EXPECT_FALSE(messageOfMember(m, "M1"));
}

}  // namespace
}  // namespace memberflow
