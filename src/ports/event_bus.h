// File: event_bus.h
// EventBus: put events on a bus whose rules route them to targets (EventBridge PutEvents, or
// the embedded bus). Delivery to targets is the bus's business, at least once, with the
// event id so that receivers can deduplicate.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace memberflow {

// One PutEvents entry (DESIGN.md §3.4: Source, DetailType, Detail = the whole CloudEvent).
struct BusEntry {
  std::string eventId;
  std::string source;
  std::string detailType;
  std::string detail;   // JSON text
  std::string time;     // RFC 3339
  std::string groupId;  // member id: per-member order towards FIFO targets
};

// Thread-safe.
class EventBus {
 public:
  virtual ~EventBus() = default;
  virtual const std::string& name() const = 0;
  // One status per entry: ok when the bus accepted it (and will deliver it). A failed entry
  // may be put again; repeats are deduplicated by event id.
  virtual Result<std::vector<Status>> put(const std::vector<BusEntry>& entries) = 0;
};

}  // namespace memberflow
