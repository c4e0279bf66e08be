// File: event_batch_queue.h
// The input queue of a stage invoked by an SQS event source mapping (DESIGN.md §9). The
// mapping has received the batch and deletes, after the invocation, every message the function
// does not report as failed (ReportBatchItemFailures). So the stage's own process() runs
// unchanged on the event's messages with this queue as its input: a remove() marks a message
// done, a changeVisibility() (a retry after a backoff) goes to the real queue and leaves the
// message failed, and whatever the stage neither removed nor dead-lettered is failed too.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "ports/queue.h"

namespace memberflow::aws {

class EventBatchQueue final : public Queue {
 public:
  // real: the queue the mapping reads (names, stats, visibility changes, sends).
  EventBatchQueue(Queue& real, std::vector<ReceivedMessage> batch)
      : real_(real), batch_(std::move(batch)) {}

  const std::vector<ReceivedMessage>& batch() const { return batch_; }

  // The message ids to report as batchItemFailures, in batch order: those not removed. On a
  // FIFO queue (fifo = true), the first of them and every message after it in the batch, done
  // or not, as the mapping requires (their order in their groups must hold).
  std::vector<std::string> failures(bool fifo) const;

  const std::string& name() const override { return real_.name(); }
  Status send(const std::vector<OutgoingMessage>& messages) override {
    return real_.send(messages);
  }
  // The mapping receives: an invocation's queue delivers nothing more.
  Result<std::vector<ReceivedMessage>> receive(size_t, int64_t, int64_t) override {
    return std::vector<ReceivedMessage>{};
  }
  // Marks the messages done; the mapping deletes them after the invocation. Thread-safe.
  Status remove(const std::vector<std::string>& receiptHandles) override;
  // Passed on to the real queue (so a retry's backoff holds), best effort: when it fails, the
  // message comes back after its visibility timeout anyway. The message stays failed.
  Status changeVisibility(const std::string& receiptHandle, int64_t visibilityMs) override;
  Result<QueueStats> stats() override { return real_.stats(); }
  Result<std::vector<ReceivedMessage>> peek(size_t max) override { return real_.peek(max); }

 private:
  Queue& real_;
  std::vector<ReceivedMessage> batch_;
  mutable std::mutex mu_;
  std::set<std::string> removed_;  // receipt handles
};

}  // namespace memberflow::aws
