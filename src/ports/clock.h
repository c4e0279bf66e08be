// File: clock.h
// Time as a port, so tests can move it (leveldb's Env: NowMicros, SleepForMicroseconds): wall
// time for visibility timeouts, TTLs and "not in the future"; monotonic time for intervals,
// deadlines and batch latency; and the one sleep every loop uses, which a stop ends at once.
// tests/support/test_support.h has a ManualClock whose time moves only when a test says so.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stop_token>

#include "common/time.h"

namespace memberflow {

// Every method is thread-safe; any number of threads may sleep on one clock at once.
class Clock {
 public:
  // A point of the clock's monotonic time. steady_clock's type for the arithmetic and the
  // type checks it brings (a monotonic point cannot be mixed up with epoch milliseconds);
  // a ManualClock's points count from an origin of its own, so only points of one clock
  // compare.
  using MonotonicTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;

  // Wall-clock milliseconds since the epoch (UTC). It may jump, backwards too, when the
  // system time is set: use it for timestamps that leave the process, never for intervals.
  virtual int64_t nowMs() const = 0;

  // Monotonic time: never goes back and does not jump with the wall clock. For deadlines,
  // intervals (flush ages, batch latency) and sleeps. Its origin is unspecified.
  virtual MonotonicTime monotonicNow() const = 0;

  // Blocks the calling thread until `d` of monotonic time has passed or `stop` is requested,
  // whichever comes first. Returns true when the whole duration passed, false when a stop
  // ended the sleep — also at once, without sleeping, when stop was requested before the
  // call. A stop wakes the sleeper promptly (it is waited on, not polled). d <= 0 returns at
  // once. A default-constructed stop_token (no stop source) sleeps the whole duration.
  virtual bool sleepFor(std::chrono::milliseconds d, std::stop_token stop) const = 0;

  // Days since 1970-01-01 of nowMs() (UTC).
  int64_t todayDays() const {
    int64_t ms = nowMs();
    return ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
  }
};

class SystemClock final : public Clock {
 public:
  int64_t nowMs() const override { return wallNowMs(); }
  MonotonicTime monotonicNow() const override { return std::chrono::steady_clock::now(); }
  bool sleepFor(std::chrono::milliseconds d, std::stop_token stop) const override {
    if (stop.stop_requested()) return false;
    if (d <= std::chrono::milliseconds::zero()) return true;
    // A condition variable that nothing notifies: wait_for ends at the timeout, or at once
    // when stop is requested (condition_variable_any registers a stop callback).
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    (void)cv.wait_for(lock, stop, d, [] { return false; });
    return !stop.stop_requested();
  }
};

}  // namespace memberflow
