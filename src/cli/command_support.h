// File: command_support.h
// What the commands share: the exit status of a failure, the configured log level, and
// progress of long work on a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/config.h"
#include "common/status.h"
#include "ports/queue.h"

namespace memberflow::cli {

// Prints "memberflow: <status>" on stderr; returns 2 for invalid arguments, 1 otherwise.
int fail(const Status& s);
void applyLogLevel(const Config& cfg);

// Prints the messages of a queue as JSON lines on stdout (id, group, dedup id, sent at,
// attributes; the body only with withBody: it holds member data), each dedup id once (a
// standard SQS queue can hold a message twice after a retried send).
void printMessages(const std::string& queue, const std::vector<ReceivedMessage>& msgs,
                   bool withBody);

// "<what> N records (R/s)" on stderr, rewritten in place at most 4 times a second; silent when
// stderr is no terminal.
class Progress {
 public:
  explicit Progress(const char* what);
  void update(int64_t n, bool final = false);

 private:
  const char* what_;
  bool tty_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_{};
};

}  // namespace memberflow::cli
