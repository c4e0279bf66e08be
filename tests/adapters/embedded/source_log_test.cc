// The embedded source log: a fixed partition count and Kafka's partitioner.
#include "adapters/embedded/source_log.h"

#include <gtest/gtest.h>

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

TEST(Partitioner, MatchesKafkaMurmur2) {
  // Values from Kafka's UtilsTest.testMurmur2.
  EXPECT_EQ(embedded::kafkaMurmur2("21"), -973932308);
  EXPECT_EQ(embedded::kafkaMurmur2("foobar"), -790332482);
  EXPECT_EQ(embedded::kafkaMurmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(embedded::kafkaMurmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(embedded::kafkaMurmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(embedded::kafkaMurmur2(std::string("abc", 3)), 479470107);
}

}  // namespace
}  // namespace memberflow
