// File: backoff.h
// Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
// Jitter"): delay = random(0, min(cap, base * 2^attempt)).
#pragma once

#include <cstdint>
#include <random>

namespace memberflow {

struct BackoffPolicy {
  int64_t baseMs = 200;
  int64_t capMs = 20000;
  int maxAttempts = 6;  // deliveries before a message goes to its DLQ
};

// attempt counts from 1.
int64_t fullJitterDelayMs(const BackoffPolicy& p, int attempt, std::mt19937_64& rng);

}  // namespace memberflow
