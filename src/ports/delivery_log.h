// File: delivery_log.h
// DeliveryLog: the durable record of the events a target of the embedded bus received. The
// target delivery stage (stages/target_delivery.h) records a batch's successful deliveries
// before it removes them from the target's queue, so that `memberflow reconcile` can prove
// that every applied change reached each target whose rule matches it, or sits in that
// target's DLQ (DESIGN.md §4, guarantee 7). Ids only: no personal data is kept.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace memberflow {

// One event delivered to one target.
struct DeliveryRecord {
  std::string target;   // the target's name (routing config)
  std::string eventId;  // the CloudEvent id (BusEntry::eventId), not a queue message id
  std::string memberId;
  std::string rule;           // the rule that routed the event to the target; "" when unknown
  int64_t deliveredAtMs = 0;  // epoch ms of the first recorded delivery
  // Filled by scan(), ignored by record():
  int64_t seq = 0;         // position in the log: grows with each new (target, event id)
  int64_t deliveries = 0;  // times recorded: 1 + the redeliveries seen
};

// What reconcile asks about: did this event reach this target?
struct DeliveryKey {
  std::string target;
  std::string eventId;
};

// Thread-safe.
class DeliveryLog {
 public:
  virtual ~DeliveryLog() = default;
  // Records the deliveries, all or none (one transaction). Idempotent per (target, event id):
  // recording a pair again (an at-least-once redelivery, or the same event routed to the
  // target by a second rule) keeps the one row, its first member, rule, time and seq, and
  // only counts the delivery. An empty vector records nothing and succeeds.
  // InvalidArgument (nothing recorded): a record with an empty target or event id.
  // Unavailable: the storage is busy or failed; the caller retries the whole vector.
  virtual Status record(const std::vector<DeliveryRecord>& delivered) = 0;
  // Up to `limit` records whose seq is greater than afterSeq, in seq (insertion) order.
  // Start with afterSeq 0; continue from the last record's seq; fewer than `limit` (or none)
  // means the end for now. A record recorded again keeps its seq, so a cursor never sees a
  // pair twice.
  virtual Result<std::vector<DeliveryRecord>> scan(int64_t afterSeq, size_t limit) = 0;
  // One flag per key, in order: true when that event was recorded for that target.
  virtual Result<std::vector<bool>> delivered(const std::vector<DeliveryKey>& keys) = 0;
};

}  // namespace memberflow
