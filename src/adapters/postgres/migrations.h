// File: migrations.h
// The PostgreSQL schema as numbered migrations, applied in order by `memberflow db migrate`
// (or at API start when postgres.migrate_on_start is set) and recorded in schema_migrations
// with a checksum of their SQL. Safe to run twice and from several processes at once: a
// session advisory lock serialises migrators, and each migration commits with its record.
#pragma once

#include <string>
#include <vector>

#include "adapters/postgres/pg.h"

namespace memberflow::postgres {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

const std::vector<Migration>& migrations();

struct MigrateReport {
  std::vector<int> applied;  // versions applied by this call
  int current = 0;           // the schema version afterwards
};

// Applies the pending migrations. Internal error when a recorded migration's SQL differs from
// this build's (someone edited a released migration) or the database is newer than the build.
Result<MigrateReport> migrate(PgConn& c);

// The schema version recorded in the database (0: none), without changing anything.
Result<int> schemaVersion(PgConn& c);

}  // namespace memberflow::postgres
