// File: member_event.h
// The member event (DESIGN.md §3.4): a CloudEvents 1.0 structured JSON document written to
// the outbox in the same transaction as the member change.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "domain/member.h"

namespace memberflow {

struct MemberEvent {
  std::string id;    // event id: unique, stable across redelivery (stored in the outbox)
  std::string type;  // member.created | member.updated | member.deleted
  std::string memberId;
  int64_t timeMs = 0;
  std::optional<Member> after;  // null for deletes
  int64_t version = 0;
  int64_t sourceSequence = 0;
  std::vector<std::string> changedFields;
  json::object lineage;  // §3.2 lineage, or {"via": "api"}
};

json::object cloudEvent(const MemberEvent& e);
// json::serialize(cloudEvent(e)), the same bytes, written directly: what the outbox keeps.
// lineageJson: json::serialize(e.lineage), which the caller has for the history row already.
std::string cloudEventJson(const MemberEvent& e, std::string_view lineageJson);

}  // namespace memberflow
