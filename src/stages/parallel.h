// File: parallel.h
// The stages' way of working on several members at once within a batch (sync's workers,
// target delivery's concurrency): up to N threads, the caller's among them, take the next
// index until none is left; the call returns when every index is done. Threads live for one
// batch only, so a stage keeps no pool between batches and nothing outlives process().
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace memberflow {

// Calls fn(i) once for every i in [0, n), on at most `workers` threads (the calling one
// included; fewer than 1 counts as 1). REQUIRES: fn may run concurrently for distinct indexes
// and throws nothing.
template <typename Fn>
void forEachInParallel(size_t n, size_t workers, Fn&& fn) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  size_t threads = std::min(std::max<size_t>(workers, 1), n);
  std::vector<std::thread> extra;
  if (threads > 1) extra.reserve(threads - 1);
  for (size_t t = 1; t < threads; ++t) extra.emplace_back(worker);
  worker();
  for (auto& t : extra) t.join();
}

}  // namespace memberflow
