// File: line_producer.h
// Appends `produce` input (JSONL, DESIGN.md §7) to the configured change sink in batches of
// up to 1,000 records, with progress on a terminal. Used by `produce` and `demo`.
#pragma once

#include <string_view>
#include <vector>

#include "cli/command_support.h"
#include "ports/change_source.h"

namespace memberflow::cli {

class LineProducer {
 public:
  explicit LineProducer(ChangeSink& sink) : sink_(sink) {}
  // One line; an empty line is skipped. InvalidArgument names the line number (what was
  // batched before it is appended first).
  Status add(std::string_view line);
  // Sends what is batched. Readers call it when their input pauses, so a paced stream is
  // appended as it arrives.
  Status flush();
  Status finish();
  int64_t produced() const { return produced_; }

 private:
  ChangeSink& sink_;
  Progress progress_{"produced"};
  std::vector<ProduceRecord> batch_;
  int64_t lineNo_ = 0, produced_ = 0;
};

// Reads JSONL from a file descriptor until its end; flushes whenever the input pauses.
Status produceFd(LineProducer& producer, int fd);

}  // namespace memberflow::cli
