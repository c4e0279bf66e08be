// The ObjectStore port's default putAll: one put after another, stopping at the first failure.
#include "ports/object_store.h"

#include <gtest/gtest.h>

#include <map>

namespace memberflow {
namespace {

// A store in memory whose put of a key named "down" fails; it counts the puts made.
class CountingStore final : public ObjectStore {
 public:
  int puts = 0;
  std::map<std::string, std::string> objects;
  Status put(const std::string& key, const std::string& data, const PutOptions&) override {
    ++puts;
    if (key == "down") return Status::unavailable("injected");
    objects[key] = data;
    return Status::ok();
  }
  Result<std::string> get(const std::string& key) override {
    auto it = objects.find(key);
    if (it == objects.end()) return Status::notFound("no object " + key);
    return it->second;
  }
  Result<std::vector<std::string>> list(const std::string&) override {
    return std::vector<std::string>{};
  }
};

TEST(ObjectStorePort, DefaultPutAllStopsAtTheFirstFailureAndAnswersEveryObject) {
  CountingStore s;
  auto got = s.putAll({{"a", "1"}, {"down", "2"}, {"c", "3"}}, {});
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[0].isOk());
  EXPECT_EQ(got[1].message(), "injected");
  EXPECT_EQ(got[2].code(), Code::kUnavailable);
  EXPECT_NE(got[2].message().find("not put"), std::string::npos);
  EXPECT_EQ(s.puts, 2);  // the third object was not attempted
  EXPECT_EQ(s.objects.size(), 1u);
  EXPECT_TRUE(s.putAll({}, {}).empty());
}

TEST(ObjectStorePort, DefaultPutAllPutsEveryObjectInOrderAndTheLaterOfTwoEqualKeysWins) {
  CountingStore s;
  auto got = s.putAll({{"a", "1"}, {"b", "2"}, {"a", "3"}}, {});
  ASSERT_EQ(got.size(), 3u);
  for (const auto& st : got) EXPECT_TRUE(st.isOk());
  EXPECT_EQ(s.puts, 3);
  EXPECT_EQ(*s.get("a"), "3");
  EXPECT_EQ(*s.get("b"), "2");
}

}  // namespace
}  // namespace memberflow
