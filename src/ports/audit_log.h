// File: audit_log.h
// AuditLog: who did what to the pipeline, and when — every operator action that changes
// something (a redrive, a release) and every reveal of personal data in the console (issue
// 17). Ids, counts and reason codes only: an entry never holds a member's personal data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace memberflow {

struct AuditEntry {
  int64_t atMs = 0;
  std::string who;     // the token's subject (an OAuth client, or a person)
  std::string action;  // e.g. "dlq.redrive", "dlq.reveal", "dlq.export", "archive.reveal"
  std::string target;  // what it acted on: a DLQ's name, an archive key, a member id
  int64_t count = 0;   // how many entries, records or members
  std::string detail;  // e.g. "reason=invalid_birth_date rate=10/s"
  int64_t seq = 0;     // filled by recent(): the entry's position
};

// Thread-safe.
class AuditLog {
 public:
  virtual ~AuditLog() = default;
  // Durable when it returns OK: an action is not done before its audit entry is written.
  virtual Status append(const AuditEntry& entry) = 0;
  // The newest `limit` entries, newest first.
  virtual Result<std::vector<AuditEntry>> recent(size_t limit) = 0;
};

}  // namespace memberflow
