#include "common/backoff.h"

#include <algorithm>

namespace memberflow {

int64_t fullJitterDelayMs(const BackoffPolicy& p, int attempt, std::mt19937_64& rng) {
  int shift = std::clamp(attempt - 1, 0, 30);
  int64_t ceiling = std::min(p.capMs, p.baseMs << shift);
  if (ceiling <= 0) return 0;
  std::uniform_int_distribution<int64_t> d(0, ceiling);
  return d(rng);
}

}  // namespace memberflow
