// File: queue.h
// Queue: a message queue with SQS semantics — visibility timeout, receive count, redrive to a
// dead-letter queue after a maximum receive count, FIFO per group and deduplication ids.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace memberflow {

struct OutgoingMessage {
  std::string groupId;  // FIFO group: messages of one group are delivered in send order
  std::string dedupId;  // a second send with the same id within the window is dropped
  std::string body;
  std::map<std::string, std::string> attributes;  // e.g. DLQ reason and coordinates
};

struct ReceivedMessage {
  std::string messageId;      // the queue's id of the message
  std::string receiptHandle;  // names this receive; needed to delete or change visibility
  std::string groupId;
  std::string dedupId;
  std::string body;
  std::map<std::string, std::string> attributes;
  int receiveCount = 0;  // including this receive
  int64_t sentAtMs = 0;
};

struct QueueStats {
  int64_t visible = 0;
  int64_t inFlight = 0;
  int64_t oldestSentAtMs = 0;  // 0 when empty, or when the queue cannot tell (SQS)
};

// Thread-safe.
class Queue {
 public:
  virtual ~Queue() = default;
  virtual const std::string& name() const = 0;

  // Sends messages durably. A dedupId already sent within the dedup window is accepted and
  // dropped (idempotent). Unavailable: retry the whole batch (dedup makes that safe).
  virtual Status send(const std::vector<OutgoingMessage>& messages) = 0;

  // Receives up to max messages and hides them for visibilityMs. FIFO: a group whose earlier
  // message is in flight delivers nothing until that message is deleted or becomes visible
  // again; within one receive a group's messages come in send order. A message received more
  // than the redrive policy's maximum is moved to the dead-letter queue instead.
  // Waits up to waitMs for a first message. An empty result is not an error.
  virtual Result<std::vector<ReceivedMessage>> receive(size_t max, int64_t visibilityMs,
                                                       int64_t waitMs) = 0;

  // Deletes received messages. Idempotent. With an outdated receipt (the message was received
  // again since) the message may or may not be deleted (SQS's words); the embedded queue keeps
  // it. Callers delete with the receipt of their own receive only.
  virtual Status remove(const std::vector<std::string>& receiptHandles) = 0;

  // Makes a received message visible again after visibilityMs (0: now).
  // NotFound: the receipt is stale or the message is gone.
  virtual Status changeVisibility(const std::string& receiptHandle, int64_t visibilityMs) = 0;

  virtual Result<QueueStats> stats() = 0;

  // Lists up to max messages without receiving them (for operators: `dlq list`).
  virtual Result<std::vector<ReceivedMessage>> peek(size_t max) = 0;
};

}  // namespace memberflow
