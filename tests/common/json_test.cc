// JsonArena: parses reuse one arena; big documents past its first block, bad text and parses
// after both still work.
#include "common/json.h"

#include <gtest/gtest.h>

namespace memberflow {
namespace {

std::string bigDocument(int n) {
  std::string s = "{\"items\":[";
  for (int i = 0; i < n; ++i) {
    if (i) s += ",";
    s += "{\"key\":\"value-" + std::to_string(i) + "\",\"n\":" + std::to_string(i) + "}";
  }
  return s + "]}";
}

TEST(JsonArena, ParsesOneDocumentAfterAnotherOfAnySize) {
  JsonArena arena;
  auto small = arena.parse(R"({"a":1,"b":"two"})");
  ASSERT_TRUE(small.isOk());
  EXPECT_EQ((*small)->at("b").as_string(), "two");
  for (int round = 0; round < 3; ++round) {  // well past the arena's first block, three times
    auto big = arena.parse(bigDocument(20000));
    ASSERT_TRUE(big.isOk()) << round;
    const auto& items = (*big)->at("items").as_array();
    ASSERT_EQ(items.size(), 20000u);
    EXPECT_EQ(items[19999].at("key").as_string(), "value-19999");
    auto again = arena.parse(R"(["x"])");
    ASSERT_TRUE(again.isOk());
    EXPECT_EQ((*again)->as_array()[0].as_string(), "x");
  }
}

TEST(JsonArena, BadTextIsInvalidArgumentAndTheNextParseWorks) {
  JsonArena arena;
  auto bad = arena.parse(R"({"a":)");
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(arena.parse("{} trailing").isOk());
  auto good = arena.parse(R"({"a":[1,2,3]})");
  ASSERT_TRUE(good.isOk());
  EXPECT_EQ((*good)->at("a").as_array().size(), 3u);
}

}  // namespace
}  // namespace memberflow
