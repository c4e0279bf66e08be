// The embedded source log: a fixed partition count and Kafka's partitioner.
#include "adapters/embedded/source_log.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/test_support.h"

namespace memberflow {
namespace {

#define EXPECT_CODE(expr, c) EXPECT_EQ((expr).code(), ::memberflow::Code::c)

using testing::ManualClock;
using testing::TempDir;
namespace emb = memberflow::embedded;

TEST(EmbeddedSourceLog, PartitionCountIsFixedAtCreation) {
  TempDir dir;
  { auto l = *emb::SourceLog::open(dir.file("s.db"), "t", 3, "g"); }
  auto l = *emb::SourceLog::open(dir.file("s.db"), "t", 8, "g");
  EXPECT_EQ(l->partitionCount(), 3);
  EXPECT_CODE(l->append({{"k", "v", {}, 5, {}}}), kInvalidArgument);
}

// The SourceReader side (what `reconcile` walks): ranges with the group's commit, reads by
// offset range without moving any consumer, and the first offset at or after a time.
TEST(EmbeddedSourceLog, ReadsByOffsetRangeAndTimeApartFromTheConsumer) {
  TempDir dir;
  auto l = *emb::SourceLog::open(dir.file("s.db"), "t", 2, "g");
  std::vector<ProduceRecord> recs;
  for (int i = 0; i < 10; ++i) {
    ProduceRecord r;
    r.key = "k" + std::to_string(i);
    r.value = "v" + std::to_string(i);
    r.headers = {{"id", "m" + std::to_string(i)}};
    r.partition = 0;
    r.timestampMs = 1000 + 10 * i;
    recs.push_back(std::move(r));
  }
  ASSERT_TRUE(l->append(recs).isOk());
  ASSERT_TRUE(l->commit({{0, 4}}).isOk());
  ASSERT_TRUE(l->rewindToCommitted().isOk());  // the consumer's position: offset 4

  auto ranges = l->ranges();
  ASSERT_TRUE(ranges.isOk()) << ranges.status().toString();
  ASSERT_EQ(ranges->size(), 2u);  // the empty partition too
  EXPECT_EQ(ranges->at(0).low, 0);
  EXPECT_EQ(ranges->at(0).high, 10);
  EXPECT_EQ(ranges->at(0).committed, 4);
  EXPECT_EQ(ranges->at(1).low, 0);
  EXPECT_EQ(ranges->at(1).high, 0);
  EXPECT_EQ(ranges->at(1).committed, 0);

  auto mid = l->read(0, 3, 7, 100);
  ASSERT_TRUE(mid.isOk());
  ASSERT_EQ(mid->size(), 4u);
  EXPECT_EQ((*mid)[0].offset, 3);
  EXPECT_EQ((*mid)[3].offset, 6);
  EXPECT_EQ((*mid)[0].value, "v3");
  EXPECT_EQ((*mid)[0].timestampMs, 1030);
  ASSERT_EQ((*mid)[0].headers.size(), 1u);
  EXPECT_EQ((*mid)[0].headers[0].second, "m3");
  EXPECT_EQ(l->read(0, 3, 7, 2)->size(), 2u);  // at most max
  EXPECT_TRUE(l->read(1, 0, 100, 10)->empty());
  EXPECT_CODE(l->read(2, 0, 1, 1).status(), kInvalidArgument);

  EXPECT_EQ(*l->offsetForTime(0, 0), 0);
  EXPECT_EQ(*l->offsetForTime(0, 1035), 4);  // the first at or after the time
  EXPECT_EQ(*l->offsetForTime(0, 1040), 4);
  EXPECT_EQ(*l->offsetForTime(0, 5000), 10);  // none: the end
  EXPECT_EQ(*l->offsetForTime(1, 0), 0);

  // Reading moved no consumer: the poll starts where the position was, not after a read.
  auto polled = l->poll(100, std::chrono::milliseconds(0));
  ASSERT_TRUE(polled.isOk());
  ASSERT_FALSE(polled->empty());
  EXPECT_EQ(polled->front().offset, 4);
}

TEST(Partitioner, MatchesKafkaMurmur2) {
  // Values from Kafka's UtilsTest.testMurmur2.
  EXPECT_EQ(embedded::kafkaMurmur2("21"), -973932308);
  EXPECT_EQ(embedded::kafkaMurmur2("foobar"), -790332482);
  EXPECT_EQ(embedded::kafkaMurmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(embedded::kafkaMurmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(embedded::kafkaMurmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(embedded::kafkaMurmur2(std::string("abc", 3)), 479470107);
}

// `memberflow erase`: records rewritten in place keep partition, offset and timestamp; the
// others are untouched; the old bytes are not left in the file.
TEST(EmbeddedSourceLog, RedactRewritesTheChosenRecordsInPlace) {
  TempDir dir;
  std::vector<ProduceRecord> recs;
  for (int i = 0; i < 6; ++i) {
    ProduceRecord r;
    r.key = i % 2 ? "other" : "mine";
    r.value = "secret-value-" + std::to_string(i);
    r.headers = {{"h", "x"}};
    r.partition = i % 3 == 0 ? 0 : 1;
    r.timestampMs = 1000 + i;
    recs.push_back(std::move(r));
  }
  {
    auto l = *emb::SourceLog::open(dir.file("s.db"), "t", 2, "g");
    ASSERT_TRUE(l->append(recs).isOk());
    auto n = l->redact([](const SourceRecord& r) -> std::optional<SourceRedactor::Replacement> {
      if (r.key != "mine") return std::nullopt;
      return SourceRedactor::Replacement{std::nullopt, std::nullopt, {{"id", "m"}}};
    });
    ASSERT_TRUE(n.isOk()) << n.status().toString();
    EXPECT_EQ(*n, 3);
    int64_t mine = 0, others = 0;
    for (int32_t p = 0; p < 2; ++p) {
      auto got = l->read(p, 0, 100, 100);
      ASSERT_TRUE(got.isOk());
      for (const auto& r : *got) {
        if (!r.key) {
          ++mine;
          EXPECT_FALSE(r.value.has_value());
          EXPECT_EQ(r.headers, (std::vector<std::pair<std::string, std::string>>{{"id", "m"}}));
        } else {
          ++others;
          EXPECT_EQ(*r.key, "other");
          EXPECT_EQ(r.value->rfind("secret-value-", 0), 0u);
        }
        EXPECT_GE(r.timestampMs, 1000);
      }
    }
    EXPECT_EQ(mine, 3);
    EXPECT_EQ(others, 3);
    // Nothing more to do a second time.
    EXPECT_EQ(*l->redact([](const SourceRecord& r) -> std::optional<SourceRedactor::Replacement> {
      if (r.key != "mine") return std::nullopt;
      return SourceRedactor::Replacement{};
    }),
              0);
  }
  ASSERT_TRUE(emb::scrubDatabase(dir.file("s.db")).isOk());
  std::ifstream f(dir.file("s.db"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (int i = 0; i < 6; i += 2) {
    EXPECT_EQ(bytes.find("secret-value-" + std::to_string(i)), std::string::npos) << i;
  }
  EXPECT_NE(bytes.find("secret-value-1"), std::string::npos);
}

}  // namespace
}  // namespace memberflow
