// File: transform.h
// Decoded Debezium change -> change command: validation and mapping of the member row to the
// canonical member (DESIGN.md §3.1 -> §3.3). Pure, no I/O.
#pragma once

#include "domain/change_command.h"
#include "domain/debezium.h"

namespace memberflow {

// Maps a source row (snake_case columns) to a canonical member; a rejection with a stable
// reason code names the first field that breaks a rule.
Result<Member> memberFromRow(const json::object& row, int64_t todayDays);

// A decoded change (status ok, not a tombstone) to the command for the changes queue.
Result<ChangeCommand> toCommand(const DecodedChange& d, const Lineage& lineage,
                                int64_t receivedAtMs, int64_t todayDays);

}  // namespace memberflow
