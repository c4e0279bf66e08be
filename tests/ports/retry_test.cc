// The Clock port's sleep (SystemClock and the tests' ManualClock) and the one retry policy
// (ports/retry.h): full-jitter delays of a doubling ceiling, the attempt limit, the deadline,
// and a stop that ends a backoff at once.
#include "ports/retry.h"

#include <gtest/gtest.h>

#include <future>
#include <limits>
#include <thread>

#include "support/stage_loop.h"
#include "support/test_support.h"

namespace memberflow {
namespace {

using namespace std::chrono_literals;
using testing::jitterCeiling;
using testing::jitterDelays;
using testing::kStep;
using testing::LoopThread;
using testing::ManualClock;

// A clock whose sleeps pass at once and are recorded: for the arithmetic of Retry.
class InstantClock final : public Clock {
 public:
  int64_t nowMs() const override { return 0; }
  MonotonicTime monotonicNow() const override {
    return MonotonicTime(std::chrono::milliseconds(now_));
  }
  bool sleepFor(std::chrono::milliseconds d, std::stop_token stop) const override {
    if (stop.stop_requested()) return false;
    sleeps.push_back(d);
    now_ += d.count();
    return true;
  }
  mutable std::vector<std::chrono::milliseconds> sleeps;
  mutable int64_t now_ = 0;
};

TEST(SystemClock, SleepsTheDurationAndAStopEndsTheSleepAtOnce) {
  SystemClock clock;
  auto t0 = clock.monotonicNow();
  EXPECT_TRUE(clock.sleepFor(5ms, {}));
  EXPECT_GE(clock.monotonicNow() - t0, 5ms);

  std::stop_source stopped;
  stopped.request_stop();
  EXPECT_FALSE(clock.sleepFor(1h, stopped.get_token()));  // already stopped: no sleep at all

  // A stop requested while another thread sleeps an hour wakes it (or finds it before its
  // sleep: either way the hour is not slept).
  std::stop_source source;
  auto sleeper =
      std::async(std::launch::async, [&] { return clock.sleepFor(1h, source.get_token()); });
  source.request_stop();
  ASSERT_EQ(sleeper.wait_for(kStep), std::future_status::ready);
  EXPECT_FALSE(sleeper.get());
}

TEST(ManualClock, SleepersWakeOnlyWhenTheTestAdvancesTimeToTheirDeadline) {
  ManualClock clock;
  LoopThread sleeper;
  std::atomic<int> woke{-1};
  sleeper.start([&](std::stop_token t) { woke = clock.sleepFor(100ms, t) ? 1 : 0; });
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  int64_t wall = clock.nowMs();
  clock.advance(99);
  EXPECT_EQ(clock.sleepers(), 1u);
  EXPECT_FALSE(sleeper.finished());
  clock.advance(1);
  ASSERT_TRUE(sleeper.waitFinished(kStep));
  EXPECT_EQ(woke, 1);
  EXPECT_EQ(clock.sleepers(), 0u);
  EXPECT_EQ(clock.nowMs(), wall + 100);
  EXPECT_EQ(clock.sleeps(), (std::vector<std::chrono::milliseconds>{100ms}));
}

TEST(ManualClock, AStopWakesASleeperWithoutTimeMoving) {
  ManualClock clock;
  LoopThread sleeper;
  std::atomic<int> woke{-1};
  sleeper.start([&](std::stop_token t) { woke = clock.sleepFor(1h, t) ? 1 : 0; });
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  auto before = clock.monotonicNow();
  ASSERT_TRUE(sleeper.stop(kStep));
  EXPECT_EQ(woke, 0);
  EXPECT_EQ(clock.monotonicNow(), before);
}

TEST(ManualClock, AdvanceToNextWakeMovesToTheEarliestDeadlineAndSetMovesWallTimeOnly) {
  ManualClock clock;
  LoopThread a, b;
  a.start([&](std::stop_token t) { (void)clock.sleepFor(300ms, t); });
  b.start([&](std::stop_token t) { (void)clock.sleepFor(200ms, t); });
  ASSERT_TRUE(clock.waitForSleepers(2, kStep));
  EXPECT_EQ(clock.advanceToNextWake(), 200);
  ASSERT_TRUE(b.waitFinished(kStep));
  EXPECT_EQ(clock.sleepers(), 1u);
  EXPECT_EQ(clock.advanceToNextWake(), 100);
  ASSERT_TRUE(a.waitFinished(kStep));
  EXPECT_EQ(clock.advanceToNextWake(), 0);  // nobody sleeps

  auto mono = clock.monotonicNow();
  clock.set(1000);  // the wall clock is set back: monotonic time does not follow
  EXPECT_EQ(clock.nowMs(), 1000);
  EXPECT_EQ(clock.monotonicNow(), mono);
}

// The delay after failure n is drawn from [0, min(cap, base * 2^(n-1))]: over many seeds every
// delay stays under its ceiling, the largest come close to it (the ceiling doubles, so the
// delays grow), and small ones keep appearing (full jitter, not "equal jitter").
TEST(Retry, DelaysAreFullJitterUnderADoublingCeiling) {
  BackoffPolicy p{100, 3000, 0};
  for (int n = 1; n <= 7; ++n) {
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = 0;
    for (uint64_t seed = 1; seed <= 300; ++seed) {
      InstantClock clock;
      Retry retry(p, clock, {}, std::nullopt, seed);
      for (int i = 0; i < n; ++i) ASSERT_TRUE(retry.backoff());
      EXPECT_EQ(retry.attempt(), n);
      int64_t d = clock.sleeps.back().count();
      EXPECT_EQ(d, retry.lastDelayMs());
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    int64_t ceiling = jitterCeiling(p, n);
    EXPECT_LE(hi, ceiling) << n;
    EXPECT_GT(hi, ceiling * 9 / 10) << n;  // reaches up to the ceiling...
    EXPECT_LT(lo, ceiling / 10 + 1) << n;  // ...and down to almost nothing
    if (n > 1 && ceiling > jitterCeiling(p, n - 1)) {
      EXPECT_GT(hi, jitterCeiling(p, n - 1)) << n;  // above the last ceiling: growing...
    }
    if (n == 7) {
      EXPECT_EQ(ceiling, p.capMs);  // ...up to the cap
    }
  }
}

TEST(Retry, ASeedFixesTheDelaysAndResetStartsAgainFromTheFirst) {
  BackoffPolicy p{100, 10000, 0};
  InstantClock clock;
  Retry retry(p, clock, {}, std::nullopt, 42);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(retry.backoff());
  EXPECT_EQ(clock.sleeps, jitterDelays(p, 42, 4));
  retry.reset();
  EXPECT_EQ(retry.attempt(), 0);
  ASSERT_TRUE(retry.backoff());
  EXPECT_EQ(retry.attempt(), 1);
  EXPECT_LE(clock.sleeps.back().count(), p.baseMs);  // the first, shortest ceiling again
}

TEST(Retry, TheAttemptLimitCountsTriesAndEndsWithoutSleeping) {
  InstantClock clock;
  Retry retry(BackoffPolicy{100, 1000, 3}, clock);
  EXPECT_EQ(retry.next(), RetryVerdict::kRetry);      // after try 1
  EXPECT_EQ(retry.next(), RetryVerdict::kRetry);      // after try 2
  EXPECT_EQ(retry.next(), RetryVerdict::kExhausted);  // try 3 was the last
  EXPECT_EQ(clock.sleeps.size(), 2u);
  EXPECT_EQ(retry.lastDelayMs(), 0);

  InstantClock unlimited;
  Retry forever(withoutAttemptLimit(BackoffPolicy{1, 1, 3}), unlimited);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(forever.next(), RetryVerdict::kRetry);
}

TEST(Retry, ADeadlineEndsTheRetryBeforeASleepThatWouldPassIt) {
  InstantClock clock;
  BackoffPolicy p{1000, 1000, 0};
  // Delays of up to 1000 ms against a deadline 1500 ms away: it retries while the next try
  // starts before the deadline, and ends instead of sleeping past it.
  auto deadline = clock.monotonicNow() + 1500ms;
  Retry retry(p, clock, {}, deadline, 9);
  RetryVerdict v;
  while ((v = retry.next()) == RetryVerdict::kRetry) {
    ASSERT_LE(clock.monotonicNow(), deadline);
  }
  EXPECT_EQ(v, RetryVerdict::kDeadline);
  EXPECT_LE(clock.monotonicNow(), deadline);

  Retry late(p, clock, {}, clock.monotonicNow() - 1ms);
  EXPECT_EQ(late.next(), RetryVerdict::kDeadline);  // already past: no sleep
}

TEST(Retry, AStopEndsTheBackoffAtOnce) {
  std::stop_source before;
  before.request_stop();
  InstantClock instant;
  Retry stopped(BackoffPolicy{100, 1000, 0}, instant, before.get_token());
  EXPECT_EQ(stopped.next(), RetryVerdict::kStopped);
  EXPECT_TRUE(instant.sleeps.empty());

  // During the sleep: a backoff of up to an hour on a clock that never moves ends with the stop.
  ManualClock clock;
  LoopThread loop;
  std::atomic<RetryVerdict> verdict{RetryVerdict::kRetry};
  loop.start([&](std::stop_token t) {
    Retry retry(BackoffPolicy{3600000, 3600000, 0}, clock, t, std::nullopt, 5);
    verdict = retry.next();
  });
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  ASSERT_TRUE(loop.stop(kStep));
  EXPECT_EQ(verdict, RetryVerdict::kStopped);
}

}  // namespace
}  // namespace memberflow
