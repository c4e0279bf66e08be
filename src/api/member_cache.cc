#include "api/member_cache.h"

namespace memberflow::api {

std::shared_ptr<const MemberCache::Entry> MemberCache::get(const std::string& id) const {
  if (!enabled()) return nullptr;
  Shard& s = shard(id);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(id);
  return it == s.map.end() ? nullptr : it->second;
}

void MemberCache::fill(const std::string& id, std::shared_ptr<const Entry> e,
                       uint64_t epochBefore) {
  if (!enabled()) return;
  Shard& s = shard(id);
  std::lock_guard lock(s.mu);
  // An invalidation since the read began: the read may predate that change.
  if (epoch_.load(std::memory_order_acquire) != epochBefore) return;
  if (s.map.size() >= perShard_ && !s.map.count(id)) s.map.erase(s.map.begin());  // bounded
  s.map[id] = std::move(e);
}

void MemberCache::invalidate(const std::string& id) {
  epoch_.fetch_add(1, std::memory_order_acq_rel);  // before the erase: fills in flight are dropped
  Shard& s = shard(id);
  std::lock_guard lock(s.mu);
  s.map.erase(id);
}

void MemberCache::setFeed(bool live) {
  if (!live) {
    enabled_.store(false, std::memory_order_release);
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    clear();
    return;
  }
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  clear();  // notices may have been missed while the feed was down
  enabled_.store(true, std::memory_order_release);
}

void MemberCache::clear() {
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    s.map.clear();
  }
}

size_t MemberCache::size() const {
  size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.map.size();
  }
  return n;
}

}  // namespace memberflow::api
