// File: member_cache.h
// The read cache of GET /member/{id}: rendered responses by member id, so a read needs no
// database round trip. Kept correct by the write path: this process invalidates a member when
// it writes it, and the store's change feed (PostgreSQL LISTEN/NOTIFY) invalidates members
// other processes wrote. A fill that raced with an invalidation is dropped (epochs), and while
// the feed is down (notices could be missed) the cache is bypassed and emptied. Bounded;
// sharded locks; entries are immutable and shared.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace memberflow::api {

class MemberCache {
 public:
  struct Entry {
    int64_t version = 0;
    bool deleted = false;
    std::string body;  // the 200 response body
  };

  explicit MemberCache(size_t maxEntries) : perShard_(std::max<size_t>(1, maxEntries / kShards)) {}

  bool enabled() const { return enabled_.load(std::memory_order_acquire); }
  std::shared_ptr<const Entry> get(const std::string& id) const;
  // Taken before reading the store; fill() keeps the entry only if no invalidation came since.
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }
  void fill(const std::string& id, std::shared_ptr<const Entry> e, uint64_t epochBefore);
  void invalidate(const std::string& id);
  // The change feed went down (false: bypass and empty) or came back (true).
  void setFeed(bool live);
  size_t size() const;

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<const Entry>> map;
  };
  Shard& shard(const std::string& id) const {
    return shards_[std::hash<std::string>{}(id) % kShards];
  }
  void clear();

  size_t perShard_;
  mutable std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<bool> enabled_{true};
};

}  // namespace memberflow::api
