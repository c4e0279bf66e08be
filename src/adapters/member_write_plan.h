// File: member_write_plan.h
// What a MemberStore write does, decided once for every store: given the write and the
// member's current row (read under the store's per-member lock), the result, the new row, the
// event, and which statements the store must run. The stores only execute the plan, so the
// embedded and the PostgreSQL store cannot drift apart in the rules of DESIGN.md §5.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "domain/member_event.h"
#include "ports/member_store.h"

namespace memberflow {

struct WritePlan {
  enum class Action {
    kNothing,           // no row changes (stale, precondition failed, invalid, …)
    kGuardUnknown,      // a sourced delete of an unknown member: a tombstone holding its sequence
    kSequenceOnly,      // same content: record the higher source sequence, no version, no event
    kWrite,             // new row state, a history entry and an outbox event
  };
  Action action = Action::kNothing;
  WriteOutcome outcome;          // result and member as the caller sees them
  StoredMember next;             // kWrite: the row to store; kSequenceOnly: its sequence
  MemberEvent event;             // kWrite
  std::string body;              // kWrite: the member JSON ("" for a tombstone)
  std::string eventJson;         // kWrite: the CloudEvent as stored in the outbox
  std::string changedFieldsJson; // kWrite
};

WritePlan planWrite(const StoreWrite& w, const std::optional<StoredMember>& current);

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
