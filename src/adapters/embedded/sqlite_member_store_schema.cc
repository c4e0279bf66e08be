// The embedded member store's tables and indexes, and the rebuilds that bring a data directory
// made by an earlier release up to them (each in one transaction, its rows kept).
#include "adapters/embedded/sqlite_member_store.h"

namespace memberflow::embedded {
namespace {

// Data directories made before the outbox lost its UNIQUE(event_id) get the table rebuilt
// without it (SQLite cannot drop a constraint's index), in one transaction: its entries and its
// AUTOINCREMENT high-water mark are kept, so relay sees the same entries with the same seqs.
Status dropOutboxEventIdIndex(SqliteDb& db) {
  return upgradeIfDefinitionHas(
      db, "outbox", "UNIQUE",
      "CREATE TABLE outbox_rebuilt(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
      " event_id TEXT NOT NULL, member_id TEXT NOT NULL, event TEXT NOT NULL,"
      " created_at INTEGER NOT NULL);"
      "INSERT INTO outbox_rebuilt(seq, event_id, member_id, event, created_at)"
      " SELECT seq, event_id, member_id, event, created_at FROM outbox ORDER BY seq;"
      "DELETE FROM sqlite_sequence WHERE name = 'outbox_rebuilt';"
      "INSERT INTO sqlite_sequence(name, seq)"
      " SELECT 'outbox_rebuilt', seq FROM sqlite_sequence WHERE name = 'outbox';"
      "DROP TABLE outbox;"
      "ALTER TABLE outbox_rebuilt RENAME TO outbox;");
}

// The tables whose rows hold a member document (~1 KB) are rowid tables. As WITHOUT ROWID
// tables, whose rows live in an index B-tree, a row over ~1,000 bytes of a 4 KB page keeps
// only ~490 of them in its leaf and the rest in an overflow page of its own: every write of a
// member, and every replay row, wrote two pages. Data directories made before are rebuilt, in
// one transaction, their rows kept.
// prepareSchema runs these rebuilds before its CREATE statements, which then create the indexes
// that DROP TABLE took with the old table. The definition is the one the table is created with.
struct RowidTable {
  const char* name;
  const char* definition;  // the columns and constraints, in parentheses
  const char* columns;     // the columns to copy
};
// NOT NULL on the text keys: in a rowid table PRIMARY KEY alone would allow a NULL.
constexpr RowidTable kMembers{
    "members",
    "(member_id TEXT NOT NULL PRIMARY KEY, body TEXT NOT NULL, version INTEGER NOT NULL,"
    " source_sequence INTEGER NOT NULL, updated_at INTEGER NOT NULL, deleted INTEGER NOT NULL)",
    "member_id, body, version, source_sequence, updated_at, deleted"};
// version: what a minimal response's record keeps (its member is "": replayRecord).
constexpr RowidTable kWriteReplays{
    "write_replays",
    "(key TEXT NOT NULL PRIMARY KEY, fingerprint TEXT NOT NULL, result TEXT NOT NULL,"
    " member TEXT NOT NULL, expires_at INTEGER NOT NULL, version INTEGER)",
    "key, fingerprint, result, member, expires_at"};

Status rebuildAsRowidTable(SqliteDb& db, const RowidTable& t) {
  std::string name = t.name;
  return upgradeIfDefinitionHas(db, name, "WITHOUT ROWID",
                                "CREATE TABLE " + name + "_rebuilt" + t.definition +
                                    ";INSERT INTO " + name + "_rebuilt(" + t.columns + ") SELECT " +
                                    t.columns + " FROM " + name + ";DROP TABLE " + name +
                                    ";ALTER TABLE " + name + "_rebuilt RENAME TO " + name);
}

// write_replays tables made before the version column get it (NULL in their rows: records of
// full responses, as every record then was). Checked again under the write lock, as every
// upgrade here is: two processes opening the file at once would otherwise both add it.
Status addReplayVersion(SqliteDb& db) {
  return upgradeIfDefinitionLacks(db, "write_replays", "version INTEGER",
                                  "ALTER TABLE write_replays ADD COLUMN version INTEGER");
}

std::string createIfNotExists(const RowidTable& t) {
  return std::string("CREATE TABLE IF NOT EXISTS ") + t.name + t.definition + ";";
}

}  // namespace

Status SqliteMemberStore::prepareSchema(SqliteDb& db) {
  for (const RowidTable* t : {&kMembers, &kWriteReplays})
    MF_RETURN_IF_ERROR(rebuildAsRowidTable(db, *t));
  MF_RETURN_IF_ERROR(
      db.exec(createIfNotExists(kMembers) + createIfNotExists(kWriteReplays) +
              "CREATE INDEX IF NOT EXISTS members_updated ON members(updated_at, member_id);"
              "CREATE TABLE IF NOT EXISTS history(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
              " member_id TEXT NOT NULL, version INTEGER NOT NULL, op TEXT NOT NULL,"
              " event_id TEXT NOT NULL, message_id TEXT NOT NULL, source_sequence INTEGER NOT NULL,"
              " changed_fields TEXT NOT NULL, lineage TEXT NOT NULL, applied_at INTEGER NOT NULL);"
              "CREATE INDEX IF NOT EXISTS history_member ON history(member_id, seq);"
              // No index on event_id: event ids are random UUIDs, nothing looks an entry up by
              // one (relay deletes by seq), and a unique index cost a random B-tree insert a write
              // (the index on created_at is below, after the rebuild of an old outbox).
              "CREATE TABLE IF NOT EXISTS outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
              " event_id TEXT NOT NULL, member_id TEXT NOT NULL, event TEXT NOT NULL,"
              " created_at INTEGER NOT NULL);"
              // What a write with an idempotency key did: its result and the member it left.
              // (Releases before it kept rendered HTTP responses in `idempotency`; this process
              // owns its database alone, so that table goes.)
              "DROP TABLE IF EXISTS idempotency;"
              // What each sourced write that left no history row did (reconcile reads it).
              "CREATE TABLE IF NOT EXISTS write_outcomes(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
              " message_id TEXT NOT NULL, member_id TEXT NOT NULL, result TEXT NOT NULL,"
              " at INTEGER NOT NULL);"
              "CREATE INDEX IF NOT EXISTS write_outcomes_member ON write_outcomes(member_id, seq);"
              "CREATE INDEX IF NOT EXISTS write_replays_expiry ON write_replays(expires_at);"
              // The audit of `memberflow erase`: ids, reason and counts, no member data.
              "CREATE TABLE IF NOT EXISTS erasures(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
              " member_id TEXT NOT NULL, at INTEGER NOT NULL, reason TEXT NOT NULL,"
              " counts TEXT NOT NULL);"
              "CREATE INDEX IF NOT EXISTS erasures_member ON erasures(member_id, seq);"));
  MF_RETURN_IF_ERROR(addReplayVersion(db));
  MF_RETURN_IF_ERROR(dropOutboxEventIdIndex(db));
  // The smallest index, so that count(*) (the status and idle probes) reads it instead of
  // every event; created_at grows with seq, so its inserts append.
  MF_RETURN_IF_ERROR(db.exec("CREATE INDEX IF NOT EXISTS outbox_created ON outbox(created_at)"));
  return Status::ok();
}

}  // namespace memberflow::embedded
