// File: test_support.h
// Test helpers: temporary directories, a manual clock, a thread for a stage's run loop, and
// the location of the shared third-party corpora. Fault-injecting wrappers of the ports are
// in fault_injection.h.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "ports/clock.h"

namespace memberflow::testing {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("memberflow-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A Clock whose time moves only when the test says so. advance() moves wall and monotonic
// time together and wakes the sleepers that are due; set() jumps the wall time alone (as
// setting the system time would). sleepFor blocks until the clock's monotonic time reaches
// the sleeper's deadline or its stop is requested — never on real time — and records every
// duration asked of it, so a test drives a loop's sleeps one by one and asserts on them.
// waitForSleepers and waitForSleeps wait, in real time with a limit, until the loop under test
// has got there: no fixed sleeps in tests.
class ManualClock final : public Clock {
 public:
  static constexpr int64_t kStartMs = 1767225600000;  // 2026-01-01T00:00:00Z
  explicit ManualClock(int64_t startMs = kStartMs) : wall_(startMs) {}

  int64_t nowMs() const override { return wall_.load(); }
  MonotonicTime monotonicNow() const override {
    return MonotonicTime(std::chrono::milliseconds(mono_.load()));
  }
  bool sleepFor(std::chrono::milliseconds d, std::stop_token stop) const override {
    std::unique_lock lock(mu_);
    sleeps_.push_back(d);
    changed_.notify_all();
    if (stop.stop_requested()) return false;
    if (d <= std::chrono::milliseconds::zero()) return true;
    int64_t deadline = mono_.load() + d.count();
    auto it = deadlines_.insert(deadline);
    changed_.notify_all();
    bool due = changed_.wait(lock, stop, [&] { return mono_.load() >= deadline; });
    deadlines_.erase(it);
    return due;
  }

  // Moves time forward (ms >= 0) and wakes the sleepers whose deadline it reaches.
  void advance(int64_t ms) {
    std::lock_guard lock(mu_);
    wall_ += ms;
    mono_ += ms;
    changed_.notify_all();
  }
  void advance(std::chrono::milliseconds d) { advance(d.count()); }
  // Sets the wall time only; monotonic time and the sleepers are not affected.
  void set(int64_t wallMs) { wall_ = wallMs; }
  // Advances to the earliest deadline of the threads sleeping now; returns by how much (0
  // when nobody sleeps).
  int64_t advanceToNextWake() {
    std::lock_guard lock(mu_);
    auto it = deadlines_.upper_bound(mono_.load());
    if (it == deadlines_.end()) return 0;
    int64_t by = *it - mono_.load();
    wall_ += by;
    mono_ += by;
    changed_.notify_all();
    return by;
  }

  // Threads sleeping now (their deadline not reached yet).
  size_t sleepers() const {
    std::lock_guard lock(mu_);
    return sleepersLocked();
  }
  // Waits, in real time at most `timeout`, until at least n threads sleep. False on timeout.
  bool waitForSleepers(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return sleepersLocked() >= n; });
  }
  // Every duration asked of sleepFor, in call order (zero and stopped ones too).
  std::vector<std::chrono::milliseconds> sleeps() const {
    std::lock_guard lock(mu_);
    return sleeps_;
  }
  // Waits, in real time at most `timeout`, until sleepFor has been called n times in all.
  bool waitForSleeps(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return sleeps_.size() >= n; });
  }

 private:
  size_t sleepersLocked() const {
    return static_cast<size_t>(
        std::distance(deadlines_.upper_bound(mono_.load()), deadlines_.end()));
  }
  std::atomic<int64_t> wall_;
  std::atomic<int64_t> mono_{3600000};  // an origin of its own, not zero
  mutable std::mutex mu_;
  mutable std::condition_variable_any changed_;
  mutable std::multiset<int64_t> deadlines_;  // of the threads in sleepFor
  mutable std::vector<std::chrono::milliseconds> sleeps_;
};

// Runs a loop — a stage's run(stop_token) — on a thread of its own, with a stop source the
// test holds: token() goes to fakes too, so that their waits end with the loop's. Declare it
// after what the loop uses, so that it is joined first.
class LoopThread {
 public:
  LoopThread() = default;
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;
  ~LoopThread() {
    source_.request_stop();
    if (thread_.joinable()) thread_.join();
  }

  std::stop_token token() const { return source_.get_token(); }
  void start(std::function<void(std::stop_token)> body) {
    thread_ = std::thread([this, body = std::move(body)] {
      body(source_.get_token());
      std::lock_guard lock(mu_);
      finished_ = true;
      cv_.notify_all();
    });
  }
  // Requests stop, then waits in real time at most `timeout` for the loop to return; true when
  // it did (the thread is then joined).
  bool stop(std::chrono::milliseconds timeout) {
    source_.request_stop();
    if (!waitFinished(timeout)) return false;
    thread_.join();
    return true;
  }
  // Waits in real time at most `timeout` for the loop to return by itself.
  bool waitFinished(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return finished_; });
  }
  bool finished() const {
    std::lock_guard lock(mu_);
    return finished_;
  }

 private:
  std::stop_source source_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;
};

// The whole file (empty when it cannot be read).
inline std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ../shared/corpora relative to the source tree (set by CMake), or empty when absent.
inline std::string corporaDir() {
  std::filesystem::path p =
      std::filesystem::path(MEMBERFLOW_SOURCE_DIR) / ".." / "shared" / "corpora";
  if (const char* env = std::getenv("MEMBERFLOW_CORPORA")) p = env;
  return std::filesystem::exists(p) ? p.string() : std::string();
}

}  // namespace memberflow::testing
