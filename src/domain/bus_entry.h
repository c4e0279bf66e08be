// File: bus_entry.h
// One event as an event bus takes it (EventBridge's PutEvents entry, DESIGN.md §3.4: Source,
// DetailType, Detail = the whole CloudEvent). Plain data: the EventBus port puts it, the
// routing rules match its envelope.
#pragma once

#include <string>

namespace memberflow {

struct BusEntry {
  std::string eventId;
  std::string source;
  std::string detailType;
  std::string detail;   // JSON text
  std::string time;     // RFC 3339
  std::string groupId;  // member id: per-member order towards FIFO targets
};

}  // namespace memberflow
