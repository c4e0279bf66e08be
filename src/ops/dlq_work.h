// File: dlq_work.h
// Working the DLQs, for `memberflow dlq list|redrive`, `park release` and the console: every
// DLQ's entries grouped by reason, and the redrive of all of a DLQ, a reason group, some
// entries or one member's, with a dry run and a rate cap.
//
// A redrive per DLQ (DESIGN.md §7):
// - ingest: each rejected record is re-validated (IngestStage::redrive); the valid ones go to
//   the changes queue, the still invalid ones stay.
// - changes: the dead change of a parked member releases the member (sync applies it, then its
//   held changes, in order); any other goes back to the changes queue.
// - the others: back to the queue the DLQ belongs to.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "ops/operator_ports.h"

namespace memberflow::ops {

struct ReasonGroup {
  std::string reason;  // the entry's "reason" attribute ("" when it has none)
  int64_t count = 0;
  int64_t oldestSentAtMs = 0;
};

struct DlqSummary {
  std::string name;   // the operator's name: ingest, changes, route, lake, target-<t>
  std::string queue;  // the queue's own name
  int64_t depth = 0;
  int64_t inFlight = 0;
  int64_t oldestSentAtMs = 0;       // 0 when empty or unknown
  std::vector<ReasonGroup> groups;  // by count, largest first
  bool truncated = false;           // more entries than were grouped
};

// Every DLQ, its entries grouped over the first `maxEntries` of each.
Result<std::vector<DlqSummary>> summarizeDlqs(OperatorPorts& ports, size_t maxEntries = 10000);

// The entries of one DLQ (each dedup id once), those of `reason` only when given, at most
// `limit`, without receiving them.
Result<std::vector<ReceivedMessage>> dlqEntries(OperatorPorts& ports, const std::string& dlq,
                                                const std::optional<std::string>& reason,
                                                size_t limit);

struct RedriveRequest {
  std::vector<std::string> ids;       // these entries (the DLQ's message ids); empty: any
  std::optional<std::string> reason;  // the entries of this reason group
  std::optional<std::string> member;  // the entries of this member (its FIFO group)
  bool dryRun = false;                // say what would happen; change nothing
  double ratePerSecond = 0;           // at most this many entries per second; 0: no cap
  int64_t holdMs = 0;  // how long a received batch stays hidden; 0: what the pace needs, >= 60 s
  size_t batch = 0;    // entries per receive; 0: what the pace allows, at most 100
  std::function<void(int64_t seen)> progress;
};

struct RedriveResult {
  std::string dlq;
  bool dryRun = false;
  int64_t selected = 0;         // entries the request selected
  int64_t redriven = 0;         // sent back (a dry run: would be)
  int64_t kept = 0;             // still invalid, kept on the DLQ (ingest only)
  int64_t membersReleased = 0;  // parked members released (changes only)
  int64_t copiesDropped = 0;    // second copies of an entry (standard queues)
  std::string summary;          // e.g. "re-validated: 12 now valid, 3 still invalid"
  json::object toJson() const;
};

Result<RedriveResult> redriveDlq(OperatorPorts& ports, const std::string& dlq,
                                 const RedriveRequest& request);

}  // namespace memberflow::ops
