// File: erase.h
// `memberflow erase --member ID` (issue 18): removes one member's personal data from every copy
// memberflow holds, through the ports, in both modes:
//   - the member store: the row keeps id, version, times and source sequence and loses its
//     body (a tombstone); history rows stay (ids, versions, changed field names, lineage) and
//     one more records the erasure; idempotency records and unsent outbox events go; a
//     member.erased event (no personal data) goes out through the outbox to the bus and the
//     lake, so downstream systems erase too (MemberStore::erase);
//   - the raw archive: each object holding a record of the member is rewritten with the
//     record's line replaced by a redaction marker keeping partition, offset and message id
//     (so the ledger and the lineage still name the object and line, reconcile counts the
//     record as erased, and replay skips it); old object versions are purged;
//   - the lake: each object holding an event of the member is rewritten under its own key (a
//     put replaces an object atomically), the event replaced by a marker keeping id, type,
//     subject and time (so reconcile still finds each event once, and the lake journal, which
//     maps event ids to keys, stays right); staged objects not yet written likewise;
//   - a source log memberflow owns (the embedded one): the member's records keep partition,
//     offset and message id (header `id`) and lose key, value and other headers;
//   - every DLQ (entries of the member are removed) and the parking store (held changes);
//   - an audit record (ids, reason and counts: never the erased data).
// Which records are the member's is decided by decoding them (key, else row): a record that
// cannot be decoded to a member id cannot be attributed and is left alone.
// The working queues must be empty (a drained, stopped pipeline): an erasure cannot reach
// into messages a running stage holds. Idempotent: a second run finds nothing more to redact.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "ports/change_source.h"
#include "ports/lake_journal.h"
#include "ports/member_store.h"
#include "ports/object_store.h"
#include "ports/parking.h"
#include "ports/queue.h"

namespace memberflow {

struct EraseOptions {
  std::string memberId;
  std::string reason;  // the operator's, kept in the audit record
  int64_t nowMs = 0;
  std::string topic;               // the source topic (raw archive lines carry no topic)
  std::string rawPrefix = "raw/";  // the raw archive
  std::string lakePrefix = "lake/";
  std::optional<std::string> kmsKeyId;  // for the objects written again
  bool force = false;                   // erase although working queues hold messages
};

struct EraseReport {
  std::map<std::string, int64_t> counts;  // per store: what was removed or redacted
  std::string eventId;                    // the member.erased event ("" when none)
  bool known = false;                     // the member store knew the member
};

// The stores to erase from. Any pointer may be null (that store is not erased from).
struct EraseTargets {
  MemberStore* members = nullptr;
  ObjectStore* objects = nullptr;
  LakeJournal* journal = nullptr;
  SourceRedactor* source = nullptr;  // null for a source memberflow does not own (Kafka)
  ParkingStore* parking = nullptr;
  std::vector<Queue*> dlqs;     // entries of the member are removed
  std::vector<Queue*> working;  // must be empty (unless forced)
};

class Eraser {
 public:
  explicit Eraser(EraseTargets targets) : t_(std::move(targets)) {}
  // Erases everywhere, in the order above; the first store that fails fails the run (its
  // status): run it again, it continues where it stopped. FailedPrecondition: a working queue
  // holds messages (drain the pipeline first), or the member store cannot erase.
  Result<EraseReport> run(const EraseOptions& opts);

 private:
  // Rewrites every object under `prefix` in which `redact` replaced lines (it returns how many),
  // then deletes the object's old versions; counts <what>Objects and <what>ObjectVersionsDeleted.
  Result<int64_t> rewriteObjects(const std::string& prefix, const EraseOptions& opts,
                                 const std::function<int64_t(std::vector<std::string>&)>& redact,
                                 const std::string& what, EraseReport& report);
  Result<int64_t> eraseArchive(const EraseOptions& opts, EraseReport& report);
  Result<int64_t> eraseLake(const EraseOptions& opts, EraseReport& report);
  Result<int64_t> eraseQueue(Queue& q, const std::string& memberId);
  EraseTargets t_;
};

// Whether a record belongs to the member: its decoded member id (key, else row).
bool recordOfMember(const SourceRecord& r, const std::string& memberId);
// Whether a queue message belongs to the member: its group, or a memberId / member_id /
// subject field anywhere in its body (JSON strings holding JSON are looked into: an ingest DLQ
// entry carries the raw key and value).
bool messageOfMember(const ReceivedMessage& m, const std::string& memberId);
// The lake line that replaces an event of an erased member: id, type, subject, time and the
// CloudEvents context kept, data dropped, "redacted":"erased" and "erasedAt" added.
std::string redactedLakeLine(const json::object& event, int64_t erasedAtMs);

}  // namespace memberflow
