// File: topic.h
// Topic: publish once, delivered to every subscription (SNS FIFO with SQS subscriptions, or
// the embedded fan-out). Each subscription is a Queue that its consumer reads.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "ports/queue.h"

namespace memberflow {

class Topic {
 public:
  virtual ~Topic() = default;
  virtual const std::string& name() const = 0;
  // Publishes durably to every subscription, in order per group. A dedupId published before
  // within the dedup window is accepted and not delivered again (idempotent: a relay that
  // crashed after publishing and publishes again creates no second delivery).
  // Unavailable: nothing or not everything was published; publish the batch again.
  virtual Status publish(const std::vector<OutgoingMessage>& messages) = 0;
};

}  // namespace memberflow
