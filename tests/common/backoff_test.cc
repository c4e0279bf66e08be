// Full-jitter exponential backoff.
#include "common/backoff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace memberflow {
namespace {

TEST(Backoff, FullJitterStaysUnderTheExponentialCeiling) {
  BackoffPolicy p{100, 1000, 5};
  std::mt19937_64 rng(1);
  int64_t maxSeen = 0;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_LE(fullJitterDelayMs(p, 1, rng), 100);
    EXPECT_LE(fullJitterDelayMs(p, 3, rng), 400);
    int64_t d = fullJitterDelayMs(p, 20, rng);
    EXPECT_LE(d, 1000);
    maxSeen = std::max(maxSeen, d);
  }
  EXPECT_GT(maxSeen, 500);  // jitter spans the range
}

}  // namespace
}  // namespace memberflow
