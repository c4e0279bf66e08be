// One line of `memberflow produce` input (DESIGN.md §7): what parseProduceLine reads and what
// it refuses, including what fuzz_produce found.
#include "cli/produce_line.h"

#include <gtest/gtest.h>

namespace memberflow::cli {
namespace {

TEST(ProduceLine, ReadsKeyValueHeadersPartitionAndTimestamp) {
  auto r = parseProduceLine(R"({"key":{"member_id":"M1"},"value":"raw bytes","headers":{"h":"v"},)"
                            R"("partition":3,"timestamp":1767225600000})");
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->key, R"({"member_id":"M1"})");  // JSON is sent compactly serialised
  EXPECT_EQ(r->value, "raw bytes");            // a string is sent as its bytes
  EXPECT_EQ(r->headers, (std::vector<std::pair<std::string, std::string>>{{"h", "v"}}));
  EXPECT_EQ(r->partition, 3);
  EXPECT_EQ(r->timestampMs, 1767225600000);
}

TEST(ProduceLine, NullValueIsATombstoneAndNullsAreAbsent) {
  auto r = parseProduceLine(R"({"key":"M1","value":null,"partition":null,"timestamp":null})");
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->value, std::nullopt);
  EXPECT_EQ(r->partition, std::nullopt);
  EXPECT_EQ(r->timestampMs, std::nullopt);
}

TEST(ProduceLine, RefusesWhatItCannotUse) {
  for (const char* line : {"[]", R"({"key":"M1"})", R"({"value":1,"other":2})",
                           R"({"value":1,"headers":[]})", R"({"value":1,"headers":{"h":1}})",
                           R"({"value":1,"partition":-1})", R"({"value":1,"partition":"3"})"}) {
    EXPECT_EQ(parseProduceLine(line).status().code(), Code::kInvalidArgument) << line;
  }
}

TEST(ProduceLine, RefusesATimestampItCannotUse) {  // was dropped silently: the record got "now"
  for (const char* line :
       {R"({"value":1,"timestamp":"2026-01-01T00:00:00Z"})", R"({"value":1,"timestamp":1.5})",
        R"({"value":1,"timestamp":176722560767225600000})"}) {
    auto r = parseProduceLine(line);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << line;
    EXPECT_EQ(r.status().message(), "timestamp must be an integer (milliseconds since the epoch)");
  }
}

}  // namespace
}  // namespace memberflow::cli
