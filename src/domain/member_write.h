// File: member_write.h
// A write to the member store (DESIGN.md §5), as data: what is asked (StoreWrite), what came
// of it (WriteOutcome), and the applied changes it leaves (HistoryEntry). planWrite decides,
// once for every store, what a write does given the member's current row (read under the
// store's per-member lock): the result, the new row, the event, and which statements the
// store must run. The stores only execute the plan, so the embedded and the PostgreSQL store
// cannot drift apart in the rules. Also the readers of the rows the stores keep (bodies,
// history JSON, list cursors) and of the replay kept under an idempotency key. Pure.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "domain/member.h"
#include "domain/member_event.h"

namespace memberflow {

enum class WriteKind { kPut, kCreate, kPatch, kDelete };

enum class WriteResult {
  kCreated,             // new member (or resurrected after a delete), event written
  kUpdated,             // content changed, version bumped, event written
  kNoOp,                // same content: no version bump, no event; the sequence is recorded
  kDeleted,             // tombstoned, event written
  kStale,               // source sequence not greater than the stored one: nothing applied
  kNotFound,            // PATCH / DELETE of a member that does not exist
  kPreconditionFailed,  // If-Match did not match the version
  kAlreadyExists,       // POST of an existing member
  kInvalid,             // the new content broke a rule (PATCH result); see `invalid`
  kReplayed,            // Idempotency-Key seen before with the same request: see `replayed`
  kKeyReused,           // Idempotency-Key seen before with a different request
};
// "created", "updated", "noop", "deleted", ... (stored with replays; logs).
std::string_view name(WriteResult r);
std::optional<WriteResult> writeResultNamed(std::string_view name);

struct WriteOutcome {
  WriteResult result = WriteResult::kNoOp;
  // The state after the write (or the current one); for kReplayed, the member as the first
  // write with the key left it (none after a delete).
  std::optional<StoredMember> member;
  std::string eventId;  // set when an event was written
  Status invalid;       // for kInvalid
  // For kReplayed: what the first write with this key did (created, updated, noop, deleted).
  WriteResult replayed = WriteResult::kNoOp;
  // For kReplayed: the first response had no member (StoreWrite::minimalResponse); `member`
  // then holds its version alone, for the ETag.
  bool replayedMinimal = false;
};

struct StoreWrite {
  WriteKind kind = WriteKind::kPut;
  std::string memberId;
  // The new content given the current live member (nullptr when absent or deleted). Used by
  // put, create and patch; a rejection yields kInvalid.
  std::function<Result<Member>(const StoredMember* current)> content;
  std::optional<int64_t> sourceSequence;  // X-Source-Sequence: the stale guard
  std::optional<int64_t> ifMatchVersion;  // If-Match
  // With a key, a write that took effect (created, updated, noop, deleted) is kept under it
  // with the member it left, and a repeat of the same request is kReplayed with them; a write
  // that had no effect is evaluated again on a repeat.
  std::optional<std::string> idempotencyKey;
  std::string requestFingerprint;  // hash of the request; a reused key must match it
  // The response carries no member (RFC 7240 Prefer: return=minimal): the key then keeps the
  // version the write left and not the member, and a repeat answers as minimally.
  bool minimalResponse = false;
  std::string messageId;  // for history (empty for direct API writes)
  json::object lineage;   // §3.2 lineage or {"via": "api"}
  int64_t nowMs = 0;
};

struct HistoryEntry {
  int64_t version = 0;
  std::string op;  // created | updated | deleted | noop
  std::string eventId;
  std::string messageId;
  int64_t sourceSequence = 0;
  std::vector<std::string> changedFields;
  json::object lineage;
  int64_t appliedAtMs = 0;
};

struct WritePlan {
  enum class Action {
    kNothing,       // no row changes (stale, precondition failed, invalid, …)
    kGuardUnknown,  // a sourced delete of an unknown member: a tombstone holding its sequence
    kSequenceOnly,  // same content: record the higher source sequence, no version, no event
    kWrite,         // new row state, a history entry and an outbox event
  };
  Action action = Action::kNothing;
  WriteOutcome outcome;           // result and member as the caller sees them
  StoredMember next;              // kWrite: the row to store; kSequenceOnly: its sequence
  MemberEvent event;              // kWrite
  std::string body;               // kWrite: the member JSON ("" for a tombstone)
  std::string eventJson;          // kWrite: the CloudEvent as stored in the outbox
  std::string changedFieldsJson;  // kWrite
  std::string lineageJson;        // kWrite: the write's lineage, as history and the event keep it
};

WritePlan planWrite(const StoreWrite& w, const std::optional<StoredMember>& current);

// The event of an erasure (`memberflow erase`, issue 18): type member.erased, no member data
// (data.member is null, no changed fields), lineage {"via": "erase"}, a new event id.
MemberEvent erasedEvent(const std::string& memberId, int64_t version, int64_t sourceSequence,
                        int64_t nowMs);
// The history op of an erasure, and the lineage its history row and event carry.
inline constexpr const char* kErasedOp = "erased";
json::object erasureLineage();

// Whether a write's outcome is kept under its idempotency key.
bool keptForReplay(WriteResult r);
// Whether a sourced write (one with a message id) that wrote no history row keeps its outcome
// for `reconcile` (stale, noop, not_found): every source record is then accounted for.
bool recordedOutcome(WriteResult r);
// What a store keeps under the key besides the outcome's result (name()): the member the write
// left (storedMemberJson; "" after a delete, and for a minimal response), and for a minimal
// response the version it left (none otherwise). A minimal response's record keeps "" as its
// member so that a release that predates the version replays it as a status without an ETag
// (a rolling deployment runs both), not as a corrupt record.
struct ReplayRecord {
  std::string member;
  std::optional<int64_t> version;
};
ReplayRecord replayRecord(const StoreWrite& w, const WriteOutcome& o);
// The outcome of a repeat, read back from what the key kept.
Result<WriteOutcome> replayOutcome(std::string_view result, const ReplayRecord& kept);

// A stored member body back into a Member (Internal when the stored row is corrupt).
Result<Member> memberFromStoredBody(const std::string& body);
// A member row's member: parsed from its body, or only its id for a tombstone (no body).
Result<Member> memberOfRow(const std::string& memberId, const std::optional<std::string>& body);

// listUpdated paging: the position after which a page starts (sinceMs - 1 and "" without a
// cursor; InvalidArgument for a malformed one), and the cursor that follows a page's last row.
struct ListPosition {
  int64_t afterUpdatedAtMs;
  std::string afterMemberId;
};
Result<ListPosition> listPosition(int64_t sinceMs, const std::string& cursor);
std::string listCursor(const StoredMember& last);

// A history row's JSON columns into the entry.
void readHistoryJson(HistoryEntry& h, const std::string& changedFields, const std::string& lineage);

}  // namespace memberflow
