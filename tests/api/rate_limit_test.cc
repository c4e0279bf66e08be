// The token-bucket limiter of failed authentications.
#include "api/rate_limit.h"

#include <gtest/gtest.h>

#include <string>

namespace memberflow::api {
namespace {

TEST(RateLimit, BurstThenSteadyRatePerKeyWithRetryAfter) {
  RateLimiter limit(2, 3, 64);
  int64_t wait = 0;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limit.allow("a", 1000, &wait));
  EXPECT_FALSE(limit.allow("a", 1000, &wait));
  EXPECT_EQ(wait, 1);
  EXPECT_TRUE(limit.allow("b", 1000, &wait));  // another client has its own bucket
  EXPECT_TRUE(limit.allow("a", 1500, &wait));  // 0.5 s at 2/s: one more
  EXPECT_FALSE(limit.allow("a", 1500, &wait));
  for (int i = 0; i < 1000; ++i)
    (void)limit.allow("k" + std::to_string(i), 2000, &wait);  // bounded memory
  EXPECT_TRUE(RateLimiter(0, 0).allow("x", 0, &wait));        // 0: no limit
}

}  // namespace
}  // namespace memberflow::api
