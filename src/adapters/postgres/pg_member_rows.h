// File: pg_member_rows.h
// What PgMemberStore's units (pg_member_writes.cc, pg_member_erase.cc) share: the member's
// writer lock, the read of its row, and that row turned back into a StoredMember.
#pragma once

#include <optional>
#include <string>

#include "adapters/postgres/pg.h"
#include "domain/member_write.h"

namespace memberflow::postgres::member_rows {

// Writers lock (1, member) for their transaction; relays try (2, member). Two spaces so that a
// relay publishing a member's events does not hold up the member's next write.
inline constexpr const char* kWriterLock = "SELECT pg_advisory_xact_lock(1, hashtext($1))";

// The member's row. A writer reads it after its writer lock, in a statement of its own, so
// its snapshot has every write of the lock's previous holders. Not FOR UPDATE: the writer lock
// keeps the row as read until the transaction ends, because every writer of members takes it
// first (the rule of pg_member_store.h; a new writer must too). The full writes' version guard
// would catch a change without it, the sequence-only and guard updates would not. The row lock
// only added a WAL record and a dirtied page per member: PostgreSQL's CPU -10 % on Kafka ->
// PostgreSQL.
inline constexpr const char* kLoadRow =
    "SELECT body::text, version, source_sequence, updated_at, deleted FROM members WHERE member_id "
    "= $1";

// Row `row` of a result whose columns are kLoadRow's (none when there is no such row).
Result<std::optional<StoredMember>> storedOfRow(const std::string& memberId, const PgResult& r,
                                                int row = 0);

}  // namespace memberflow::postgres::member_rows
