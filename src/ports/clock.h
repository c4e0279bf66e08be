// File: clock.h
// Time as a port, so tests can move it: visibility timeouts, TTLs, "not in the future".
#pragma once

#include <cstdint>

#include "common/time.h"

namespace memberflow {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the epoch. Thread-safe.
  virtual int64_t nowMs() const = 0;
  int64_t todayDays() const {
    int64_t ms = nowMs();
    return ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
  }
};

class SystemClock final : public Clock {
 public:
  int64_t nowMs() const override { return wallNowMs(); }
};

}  // namespace memberflow
