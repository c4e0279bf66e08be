// File: test_support.h
// Test helpers: temporary directories, a settable clock, and the location of the shared
// third-party corpora.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>

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

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t startMs = 1767225600000) : now_(startMs) {}
  int64_t nowMs() const override { return now_.load(); }
  void advance(int64_t ms) { now_ += ms; }
  void set(int64_t ms) { now_ = ms; }

 private:
  std::atomic<int64_t> now_;
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
  std::filesystem::path p = std::filesystem::path(MEMBERFLOW_SOURCE_DIR) / ".." / "shared" / "corpora";
  if (const char* env = std::getenv("MEMBERFLOW_CORPORA")) p = env;
  return std::filesystem::exists(p) ? p.string() : std::string();
}

}  // namespace memberflow::testing
