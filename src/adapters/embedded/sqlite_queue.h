// File: sqlite_queue.h
// The embedded queue: SQS semantics in SQLite. Several named queues share one database file;
// each SqliteQueue is a handle on one of them. Works across processes (WAL + busy timeout).
// A receive that waits is woken at once by what this process does to its queue (a send, a
// delete or a visibility change can make a message deliverable); what other processes do, and
// visibility timeouts running out, it sees by re-reading every kRecheckMs.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "adapters/embedded/sqlite.h"
#include "ports/clock.h"
#include "ports/queue.h"
#include "ports/topic.h"

namespace memberflow::embedded {

struct RedrivePolicy {
  std::string deadLetterQueue;
  int maxReceiveCount = 5;
};

struct QueueOptions {
  bool fifo = true;
  int64_t dedupWindowMs = 5 * 60 * 1000;  // SQS's five minutes
  std::optional<RedrivePolicy> redrive;
};

class SqliteQueueStore : public std::enable_shared_from_this<SqliteQueueStore> {
 public:
  static Result<std::shared_ptr<SqliteQueueStore>> open(const std::string& path, const Clock& clock,
                                                        const SqliteDb::Options& opts = {});
  // A handle on the named queue (created on first use: queues are rows, not tables).
  std::unique_ptr<Queue> queue(const std::string& name, const QueueOptions& opts);
  // Sends the messages to every named queue in ONE transaction: the topic fan-out.
  Status sendToAll(const std::vector<std::string>& queues,
                   const std::vector<OutgoingMessage>& messages, int64_t dedupWindowMs);

  // Dedup ids past their window are deleted once every this many messages sent, at most
  // kPurgeChunk at a time.
  static constexpr size_t kPurgeEvery = 1000;
  static constexpr size_t kPurgeChunk = 5000;

 private:
  friend class SqliteQueue;
  SqliteQueueStore(std::unique_ptr<SqliteDb> db, const Clock& clock)
      : db_(std::move(db)), clock_(clock) {}
  // Inserts messages into one queue; the caller holds mu_ and an open transaction.
  Status sendLocked(const std::string& queue, const std::vector<OutgoingMessage>& messages,
                    int64_t dedupWindowMs);
  // The queue changed in a way that may make a message deliverable: wakes its receivers. The
  // caller holds mu_.
  void changedLocked(const std::string& queue) {
    ++changes_[queue];
    changed_.notify_all();
  }
  static constexpr int64_t kRecheckMs = 20;
  size_t sentSincePurge_ = 0;  // under mu_
  std::mutex mu_;
  std::condition_variable changed_;
  std::unordered_map<std::string, uint64_t> changes_;  // per queue, under mu_
  std::unique_ptr<SqliteDb> db_;
  const Clock& clock_;
};

// A topic whose subscriptions are queues of the same store: publish is one transaction that
// appends to every subscribed queue (durable fan-out, FIFO per group, dedup per queue).
class SqliteTopic final : public Topic {
 public:
  SqliteTopic(std::shared_ptr<SqliteQueueStore> store, std::string name,
              std::vector<std::string> subscriptions, int64_t dedupWindowMs = 5 * 60 * 1000)
      : store_(std::move(store)),
        name_(std::move(name)),
        subs_(std::move(subscriptions)),
        dedupWindowMs_(dedupWindowMs) {}
  const std::string& name() const override { return name_; }
  Status publish(const std::vector<OutgoingMessage>& messages) override {
    return store_->sendToAll(subs_, messages, dedupWindowMs_);
  }

 private:
  std::shared_ptr<SqliteQueueStore> store_;
  std::string name_;
  std::vector<std::string> subs_;
  int64_t dedupWindowMs_;
};

class SqliteQueue final : public Queue {
 public:
  SqliteQueue(std::shared_ptr<SqliteQueueStore> store, std::string name, QueueOptions opts)
      : store_(std::move(store)), name_(std::move(name)), opts_(std::move(opts)) {}
  const std::string& name() const override { return name_; }
  Status send(const std::vector<OutgoingMessage>& messages) override;
  Result<std::vector<ReceivedMessage>> receive(size_t max, int64_t visibilityMs,
                                               int64_t waitMs) override;
  Status remove(const std::vector<std::string>& receiptHandles) override;
  Status changeVisibility(const std::string& receiptHandle, int64_t visibilityMs) override;
  Result<QueueStats> stats() override;
  Result<std::vector<ReceivedMessage>> peek(size_t max) override;

 private:
  Result<std::vector<ReceivedMessage>> receiveOnce(size_t max, int64_t visibilityMs);
  std::shared_ptr<SqliteQueueStore> store_;
  std::string name_;
  QueueOptions opts_;
};

}  // namespace memberflow::embedded
