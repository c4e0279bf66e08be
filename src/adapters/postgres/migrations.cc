#include "adapters/postgres/migrations.h"

#include <map>

#include "common/crypto.h"

namespace memberflow::postgres {
namespace {

// Any constant: the advisory lock key of migrators ("memberflow" in ASCII, truncated).
constexpr const char* kLock = "SELECT pg_advisory_lock(7307217656434566)";
constexpr const char* kUnlock = "SELECT pg_advisory_unlock(7307217656434566)";

}  // namespace

// Released migrations are never edited: a change is a new migration. A migration keeps the
// previous release working on the new schema (new tables, columns with defaults, functions;
// a removal waits until no release uses the object), because a rolling deployment runs both.
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = {
      {1, "member store: members, history, outbox, idempotency", R"sql(
CREATE TABLE members (
  member_id       text PRIMARY KEY,
  body            jsonb,             -- NULL for a tombstone
  version         bigint NOT NULL,
  source_sequence bigint NOT NULL,
  updated_at      bigint NOT NULL,   -- ms since the epoch
  deleted         boolean NOT NULL
);
CREATE INDEX members_updated ON members (updated_at, member_id) WHERE NOT deleted;

CREATE TABLE history (
  seq             bigserial PRIMARY KEY,
  member_id       text NOT NULL,
  version         bigint NOT NULL,
  op              text NOT NULL,
  event_id        text NOT NULL,
  message_id      text NOT NULL,
  source_sequence bigint NOT NULL,
  changed_fields  jsonb NOT NULL,
  lineage         jsonb NOT NULL,
  applied_at      bigint NOT NULL
);
CREATE INDEX history_member ON history (member_id, seq);

CREATE TABLE outbox (
  seq        bigserial PRIMARY KEY,
  event_id   text NOT NULL UNIQUE,
  member_id  text NOT NULL,
  event      text NOT NULL,          -- the CloudEvent, byte for byte as published
  created_at bigint NOT NULL
);

CREATE TABLE idempotency (
  key         text PRIMARY KEY,
  fingerprint text NOT NULL,
  status      integer NOT NULL,
  body        text NOT NULL,
  etag        text NOT NULL,
  location    text NOT NULL,
  expires_at  bigint NOT NULL
);
CREATE INDEX idempotency_expiry ON idempotency (expires_at);
)sql"},
      {2, "memberflow_expect_one: a write's version guard fails its transaction", R"sql(
-- The member write sends its statements in one pipeline, COMMIT included, so a version guard
-- that matched no row must fail the transaction itself: as a serialization failure, which
-- the store runs again.
CREATE FUNCTION memberflow_expect_one(n bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  IF n <> 1 THEN
    RAISE EXCEPTION 'member changed under the lock' USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN n;
END
$$;
)sql"},
      {3, "write_replays: the outcome of a write kept under its idempotency key", R"sql(
-- What a write with an Idempotency-Key did, as data: its result and the member it left (the
-- API renders the response from them, the first time and on a repeat alike). Releases before
-- this one kept rendered HTTP responses in idempotency, which stays until no release reads it;
-- a request repeated across the two releases is evaluated again rather than replayed (its
-- sequence guard makes that harmless).
CREATE TABLE write_replays (
  key         text PRIMARY KEY,
  fingerprint text NOT NULL,
  result      text NOT NULL,
  member      text NOT NULL,           -- storedMemberJson, '' after a delete
  expires_at  bigint NOT NULL
);
CREATE INDEX write_replays_expiry ON write_replays (expires_at);
)sql"},
      {4, "write_outcomes: what a sourced write that left no history row did", R"sql(
-- A write from the change stream (one with a message id) that was stale, a no-op or a delete
-- of an unknown member leaves no history row; its outcome is kept here so that `reconcile`
-- accounts for every source record. Append-only; a write retried after a crash may add a
-- second row for its message id.
CREATE TABLE write_outcomes (
  seq        bigserial PRIMARY KEY,
  message_id text NOT NULL,
  member_id  text NOT NULL,
  result     text NOT NULL,
  at         bigint NOT NULL
);
)sql"},
      {5, "erasures: the audit of `memberflow erase`", R"sql(
-- One row per erasure of a member: ids, the operator's reason and what was removed per store
-- (counts), never the erased data.
CREATE TABLE erasures (
  seq       bigserial PRIMARY KEY,
  member_id text NOT NULL,
  at        bigint NOT NULL,
  reason    text NOT NULL,
  counts    jsonb NOT NULL
);
CREATE INDEX erasures_member ON erasures (member_id, seq);
)sql"},
      {6, "audit: the console's audit log; write outcomes by member", R"sql(
-- Who did what through the operator console (docs/console.md): ids, counts and reason codes,
-- never a member's personal data. Append-only.
CREATE TABLE audit (
  seq     bigserial PRIMARY KEY,
  at      bigint NOT NULL,
  who     text NOT NULL,
  action  text NOT NULL,
  target  text NOT NULL,
  count   bigint NOT NULL,
  detail  text NOT NULL
);
-- The console's lineage lists a member's stale and no-op records; erase finds them too.
CREATE INDEX write_outcomes_member ON write_outcomes (member_id, seq);
)sql"},
      {7, "write_replays.version: what a minimal response's record keeps", R"sql(
-- A write whose response carried no member (Prefer: return=minimal) keeps the version it left
-- here, and '' as its member: a release that predates this column replays such a record as a
-- status without an ETag. NULL for a full response's record, whose member holds the version.
ALTER TABLE write_replays ADD COLUMN version bigint;
)sql"},
  };
  return all;
}

Result<int> schemaVersion(PgConn& c) {
  auto t = c.run("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!t.isOk()) return t.status();
  if (!t->boolean(0, 0)) return 0;
  auto v = c.run("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!v.isOk()) return v.status();
  return static_cast<int>(v->i64(0, 0));
}

Result<MigrateReport> migrate(PgConn& c) {
  if (auto l = c.run(kLock); !l.isOk()) return l.status();
  struct Unlock {
    PgConn& c;
    ~Unlock() { (void)c.run(kUnlock); }
  } unlock{c};
  auto t = c.run(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT "
      "NULL,"
      " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
  if (!t.isOk()) return t.status();
  auto rows = c.run("SELECT version, checksum FROM schema_migrations ORDER BY version");
  if (!rows.isOk()) return rows.status();
  std::map<int, std::string> recorded;
  for (int i = 0; i < rows->rows(); ++i)
    recorded[static_cast<int>(rows->i64(i, 0))] = rows->str(i, 1);
  MigrateReport report;
  const auto& all = migrations();
  if (!recorded.empty() && recorded.rbegin()->first > all.back().version) {
    return Status::internal(
        "postgres: the database schema (version " + std::to_string(recorded.rbegin()->first) +
        ") is newer than this build knows (" + std::to_string(all.back().version) + ")");
  }
  for (const auto& m : all) {
    std::string sum = crypto::sha256Hex(m.sql);
    if (auto it = recorded.find(m.version); it != recorded.end()) {
      if (it->second != sum) {
        return Status::internal(
            "postgres: migration " + std::to_string(m.version) +
            " differs from the one applied (released migrations must not change)");
      }
      continue;
    }
    PgTransaction tx(c);
    MF_RETURN_IF_ERROR(tx.begin());
    if (auto r = c.run(m.sql); !r.isOk()) return r.status();
    auto rec = c.exec("mf_record_migration",
                      "INSERT INTO schema_migrations(version, name, checksum) VALUES($1, $2, $3)",
                      {std::to_string(m.version), std::string(m.name), sum});
    if (!rec.isOk()) return rec.status();
    MF_RETURN_IF_ERROR(tx.commit());
    report.applied.push_back(m.version);
  }
  report.current = all.back().version;
  return report;
}

}  // namespace memberflow::postgres
