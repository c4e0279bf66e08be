// File: event_bus.h
// EventBus: put events on a bus whose rules route them to targets (EventBridge PutEvents, or
// the embedded bus). Delivery to targets is the bus's business, at least once, with the
// event id so that receivers can deduplicate.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "domain/bus_entry.h"

namespace memberflow {

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
