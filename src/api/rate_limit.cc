#include "api/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace memberflow::api {

bool RateLimiter::allow(const std::string& key, int64_t nowMs, int64_t* retryAfterSeconds) {
  if (rate_ <= 0) return true;
  Shard& s = shards_[std::hash<std::string>{}(key) % kShards];
  std::lock_guard lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end()) {
    if (s.map.size() >= perShard_) {
      // Full: forget the buckets that have refilled (they hold no state worth keeping).
      for (auto i = s.map.begin(); i != s.map.end();) {
        double refilled =
            i->second.tokens + static_cast<double>(nowMs - i->second.atMs) / 1000.0 * rate_;
        i = refilled >= burst_ ? s.map.erase(i) : std::next(i);
      }
      if (s.map.size() >= perShard_) s.map.erase(s.map.begin());
    }
    it = s.map.emplace(key, Bucket{burst_, nowMs}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + static_cast<double>(std::max<int64_t>(0, nowMs - b.atMs)) /
                                             1000.0 * rate_);
  b.atMs = nowMs;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  if (retryAfterSeconds)
    *retryAfterSeconds = static_cast<int64_t>(std::ceil((1 - b.tokens) / rate_));
  return false;
}

}  // namespace memberflow::api
