// File: retry.h
// The one retry policy of memberflow (DESIGN.md §4.5): exponential backoff with full jitter,
// an attempt limit, a deadline and a stop token in one object, sleeping on the Clock port —
// Redpanda's retry_chain_node in small. Every loop that waits after a failure uses it: each
// stage's run() loop, target delivery and the AWS client's retry of a request. Small shared
// vocabulary beside the ports, because stages and adapters both use it and neither may
// include the other; the delay arithmetic itself is common/backoff.h's fullJitterDelayMs.
//
//   Retry retry(policy, clock, stop);
//   while (!stop.stop_requested()) {
//     if (doWork().isOk()) { retry.reset(); continue; }
//     if (!retry.backoff()) break;  // stopped (or out of attempts, or past the deadline)
//   }
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <stop_token>

#include "common/backoff.h"
#include "ports/clock.h"

namespace memberflow {

// What a Retry decided after a failure.
enum class RetryVerdict {
  kRetry,      // the backoff delay has passed: try again
  kExhausted,  // this failure was attempt number policy.maxAttempts: give up, nothing slept
  kDeadline,   // the deadline has passed, or the next try would start after it: give up
  kStopped,    // stop was requested, before or during the sleep: give up at once
};

inline const char* retryVerdictName(RetryVerdict v) {
  switch (v) {
    case RetryVerdict::kRetry: return "retry";
    case RetryVerdict::kExhausted: return "exhausted";
    case RetryVerdict::kDeadline: return "deadline";
    case RetryVerdict::kStopped: return "stopped";
  }
  return "unknown";
}

// A loop that must not give up (a stage's run loop: an outage pauses it, never ends it) uses
// its policy's delays without the attempt limit, which may mean something else there (sync's
// and target delivery's maxAttempts count a message's deliveries before its DLQ).
inline BackoffPolicy withoutAttemptLimit(BackoffPolicy p) {
  p.maxAttempts = 0;
  return p;
}

// Not thread-safe: one Retry per loop, or per operation (the AWS client makes one per
// request). Cheap to make: the random generator is seeded at the first failure only.
class Retry {
 public:
  // policy.maxAttempts counts tries (the first one included); <= 0: no limit. `deadline` is in the
  // clock's monotonic time. `seed` fixes the jitter (tests); 0 draws one from random_device.
  Retry(const BackoffPolicy& policy, const Clock& clock, std::stop_token stop = {},
        std::optional<Clock::MonotonicTime> deadline = std::nullopt, uint64_t seed = 0)
      : policy_(policy), clock_(clock), stop_(std::move(stop)), deadline_(deadline), seed_(seed) {}

  // After a failure: counts it, then — unless the attempt limit, the deadline or a stop says
  // otherwise — sleeps fullJitterDelayMs(policy, attempt()) on the clock, a stop ending the
  // sleep at once. kRetry means: the delay has passed, try again.
  RetryVerdict next() {
    ++attempt_;
    lastDelayMs_ = 0;
    if (stop_.stop_requested()) return RetryVerdict::kStopped;
    if (policy_.maxAttempts > 0 && attempt_ >= policy_.maxAttempts) return RetryVerdict::kExhausted;
    if (!rng_) rng_.emplace(seed_ != 0 ? seed_ : std::random_device{}());
    int64_t delay = fullJitterDelayMs(policy_, attempt_, *rng_);
    if (deadline_ && clock_.monotonicNow() + std::chrono::milliseconds(delay) > *deadline_) {
      return RetryVerdict::kDeadline;
    }
    lastDelayMs_ = delay;
    return clock_.sleepFor(std::chrono::milliseconds(delay), stop_) ? RetryVerdict::kRetry
                                                                    : RetryVerdict::kStopped;
  }
  // next() == kRetry: true when the caller should try again.
  bool backoff() { return next() == RetryVerdict::kRetry; }

  // After a success: the next failure starts again from the first, shortest delay.
  void reset() { attempt_ = 0; }

  // Failures since construction or the last reset().
  int attempt() const { return attempt_; }
  // The delay the last next() slept (0 when it did not sleep).
  int64_t lastDelayMs() const { return lastDelayMs_; }
  const std::stop_token& stopToken() const { return stop_; }

 private:
  BackoffPolicy policy_;
  const Clock& clock_;
  std::stop_token stop_;
  std::optional<Clock::MonotonicTime> deadline_;
  uint64_t seed_;
  std::optional<std::mt19937_64> rng_;
  int attempt_ = 0;
  int64_t lastDelayMs_ = 0;
};

}  // namespace memberflow
