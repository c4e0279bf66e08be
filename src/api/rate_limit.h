// File: rate_limit.h
// Per-client rate limiting: a token bucket per key (an OAuth client, or a remote address for
// requests that did not authenticate), bounded in memory, sharded locks.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace memberflow::api {

class RateLimiter {
 public:
  // perSecond <= 0: every request is allowed.
  RateLimiter(double perSecond, double burst, size_t maxKeys = 100000)
      : rate_(perSecond), burst_(burst < 1 ? 1 : burst), perShard_(maxKeys / kShards + 1) {}
  // Whether a request of `key` may go ahead at `nowMs`; when not, `retryAfterSeconds` says
  // when one will (rounded up).
  bool allow(const std::string& key, int64_t nowMs, int64_t* retryAfterSeconds);

 private:
  static constexpr size_t kShards = 16;
  struct Bucket {
    double tokens;
    int64_t atMs;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Bucket> map;
  };
  double rate_, burst_;
  size_t perShard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace memberflow::api
