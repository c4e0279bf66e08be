// The read cache behind the handlers: kept correct by writes and change notices.
#include "api/member_cache.h"

#include <gtest/gtest.h>

#include "api/api_fixture.h"

namespace memberflow::api {
namespace {

// Reads come from the cache once filled; this API's own writes invalidate; a change notice
// (another process wrote) invalidates; while the feed is down the store is read every time.
TEST_F(ApiTest, ReadCacheIsKeptCorrectByWritesAndChangeNotices) {
  MemberCache cache(1000);
  MemberApi cached{*store, *key, clock, {}, &cache};
  auto get = [&](std::map<std::string, std::string> h = {}) {
    ApiRequest r{"GET", "/member/M1", {}, "", ""};
    r.headers = std::move(h);
    r.headers["authorization"] = "Bearer " + rw;
    return cached.handle(r);
  };
  auto put = [&](const std::string& last, ApiMemberStore via) {
    ApiRequest r{"PUT", "/member/M1", {{"authorization", "Bearer " + rw}}, "", ""};
    std::string b = kBody;
    r.body = b.replace(b.find("Lovelace"), 8, last);
    return via == ApiMemberStore::kCached ? cached.handle(r) : api.handle(r);
  };
  ASSERT_EQ(put("One", ApiMemberStore::kCached).status, 201);
  EXPECT_EQ(get().status, 200);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(get({{"if-none-match", "\"1\""}}).status, 304);
  ASSERT_EQ(put("Two", ApiMemberStore::kCached).status, 200);  // this API's write
  EXPECT_EQ(body(get()).at("name").at("last").as_string(), "Two");
  ASSERT_EQ(put("Three", ApiMemberStore::kOther).status, 200);      // another writer, no notice yet
  EXPECT_EQ(body(get()).at("name").at("last").as_string(), "Two");  // what the notice is for
  cache.invalidate("M1");                                           // the notice
  EXPECT_EQ(body(get()).at("name").at("last").as_string(), "Three");
  EXPECT_EQ(header(get(), "ETag"), "\"3\"");
  cache.setFeed(false);  // notices could be missed: every read goes to the store
  ASSERT_EQ(put("Four", ApiMemberStore::kOther).status, 200);
  EXPECT_EQ(body(get()).at("name").at("last").as_string(), "Four");
  EXPECT_EQ(cache.size(), 0u);
  // A fill that raced with a notice is dropped.
  cache.setFeed(true);
  uint64_t before = cache.epoch();
  cache.invalidate("M9");
  cache.fill("M1", std::make_shared<MemberCache::Entry>(), before);
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace memberflow::api
