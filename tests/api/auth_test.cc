// VerifiedTokenCache: verified tokens remembered briefly, failures never.
#include <gtest/gtest.h>

#include "api/api_fixture.h"

namespace memberflow::api {
namespace {

// A verified token is remembered until min(exp, 60 s); failures are never remembered.
TEST_F(ApiTest, VerifiedTokensAreRememberedBrieflyAndNeverPastExpiry) {
  struct Counting final : Authenticator {
    const Authenticator& inner;
    mutable int calls = 0;
    explicit Counting(const Authenticator& i) : inner(i) {}
    Result<Claims> verify(const std::string& t) const override {
      ++calls;
      return inner.verify(t);
    }
  } counting(*key);
  VerifiedTokenCache cache(counting, clock);
  std::string shortLived = key->mint("test", {"member:read"}, 30);
  ASSERT_TRUE(cache.verify(shortLived).isOk());
  ASSERT_TRUE(cache.verify(shortLived).isOk());
  EXPECT_EQ(counting.calls, 1);  // the second one from the cache
  EXPECT_FALSE(cache.verify(shortLived + "x").isOk());
  EXPECT_FALSE(cache.verify(shortLived + "x").isOk());
  EXPECT_EQ(counting.calls, 3);  // failures are verified every time
  clock.advance(31000);          // past exp: the cache does not vouch for it any more
  (void)cache.verify(shortLived);
  EXPECT_EQ(counting.calls, 4);
  std::string longLived = key->mint("test", {"member:read"}, 3600);
  ASSERT_TRUE(cache.verify(longLived).isOk());
  clock.advance(61000);  // the cache keeps a verification 60 s at most
  ASSERT_TRUE(cache.verify(longLived).isOk());
  EXPECT_EQ(counting.calls, 6);
}

}  // namespace
}  // namespace memberflow::api
