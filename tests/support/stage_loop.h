// File: stage_loop.h
// Helpers for the tests that drive a stage's run() loop on its own thread (LoopThread) with a
// ManualClock: the backoff delays a seeded Retry must ask of the clock, and a way to let the
// loop run through its sleeps until a condition holds.
#pragma once

#include <chrono>
#include <functional>
#include <random>
#include <vector>

#include "common/backoff.h"
#include "support/test_support.h"

namespace memberflow::testing {

// The real-time limit of one step of a loop under test. A step takes microseconds when the
// loop works; the limit only turns a loop that does not into a failure instead of a hang.
inline constexpr std::chrono::milliseconds kStep{10000};

// The delays a Retry with this policy and jitter seed sleeps after failures 1..n (the
// full-jitter sequence of common/backoff.h, drawn as Retry draws it).
inline std::vector<std::chrono::milliseconds> jitterDelays(const BackoffPolicy& p, uint64_t seed,
                                                           int n) {
  std::mt19937_64 rng(seed);
  std::vector<std::chrono::milliseconds> out;
  for (int attempt = 1; attempt <= n; ++attempt) {
    out.emplace_back(fullJitterDelayMs(p, attempt, rng));
  }
  return out;
}

// The largest delay full jitter may draw after failure n: min(cap, base * 2^(n-1)).
inline int64_t jitterCeiling(const BackoffPolicy& p, int n) {
  return std::min(p.capMs, p.baseMs << std::min(n - 1, 30));
}

// Lets the loop run through its sleeps, advancing the clock to each sleeper's deadline, until
// `condition` holds; false when it does not within `timeout` of real time.
inline bool runClockUntil(ManualClock& clock, const std::function<bool()>& condition,
                          std::chrono::milliseconds timeout = kStep) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    if (clock.waitForSleepers(1, std::chrono::milliseconds(50))) clock.advanceToNextWake();
  }
  return true;
}

}  // namespace memberflow::testing
