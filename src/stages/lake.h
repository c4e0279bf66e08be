// File: lake.h
// The lake stage (DESIGN.md §1, §3.5): consumes the lake queue, buffers events and writes
// lake/member-events/dt=YYYY-MM-DD/hr=HH/<writer>-<firstSeq>-<lastSeq>.ndjson.gz, one
// CloudEvent per line, flushing by size and by time. firstSeq-lastSeq are the writer's lake
// sequence numbers of the events an object holds, reserved from the journal when the object
// is staged: names are fixed before the write (recovery rewrites the same key) and sort in
// placement order. The journal makes every event land exactly once.
#pragma once

#include <chrono>
#include <stop_token>
#include <string>

#include "ports/clock.h"
#include "ports/lake_journal.h"
#include "ports/object_store.h"
#include "ports/queue.h"
#include "ports/retry.h"

namespace memberflow {

struct LakeOptions {
  std::string writer = "lake-0";
  size_t maxEvents = 5000;                     // flush when this many are buffered
  size_t maxBytes = 8 << 20;                   // or this many bytes
  std::chrono::milliseconds flushAfter{1000};  // or when the oldest has waited this long
  size_t receiveBatch = 500;
  int64_t visibilityMs = 60000;  // longer than flushAfter plus a write
  std::optional<std::string> kmsKeyId;
  BackoffPolicy backoff{100, 5000, 0};  // after a failed receive or flush; no attempt limit
  uint64_t jitterSeed = 0;              // 0: random (tests fix it)
};

class LakeStage {
 public:
  LakeStage(Queue& lake, Queue& dlq, ObjectStore& store, LakeJournal& journal, const Clock& clock,
            LakeOptions opts)
      : lake_(lake),
        dlq_(dlq),
        store_(store),
        journal_(journal),
        clock_(clock),
        opts_(std::move(opts)) {}

  // Writes objects staged before a crash. Call before consuming.
  Status recover();
  // Places the events of these messages in the lake, then deletes the messages. Events
  // already placed are skipped; unreadable messages go to the DLQ. Returns events written.
  Result<size_t> flush(const std::vector<ReceivedMessage>& batch);
  // Recovers (retrying until it succeeds), then receives and flushes until stop is requested,
  // flushing what is buffered on the way out. The age of the buffer is the clock's monotonic
  // time. A failed receive, flush or recovery backs off (Retry, on the clock; receiving and
  // writing count their failures apart), a stop ending the backoff at once; the messages of a
  // failed flush stay in flight and come back after their visibility timeout.
  void run(std::stop_token stop);

 private:
  Queue& lake_;
  Queue& dlq_;
  ObjectStore& store_;
  LakeJournal& journal_;
  const Clock& clock_;
  LakeOptions opts_;
  // Set while a flush has staged objects it has not written yet: a failed flush leaves them
  // staged, and their events count as placed, so the next flush must write them first.
  bool unwritten_ = false;
};

// The lake object key for a partition and a run of lake sequence numbers.
std::string lakeObjectKey(const std::string& date, int hour, const std::string& writer,
                          int64_t firstSeq, int64_t lastSeq);

}  // namespace memberflow
