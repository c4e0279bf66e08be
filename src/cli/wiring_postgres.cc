// The PostgreSQL adapter family: the member store on a connection pool, and its schema.
#include <string>

#include "adapters/postgres/migrations.h"
#include "adapters/postgres/pg_audit_log.h"
#include "adapters/postgres/pg_member_store.h"
#include "cli/wiring_families.h"
#include "common/log.h"

namespace memberflow::cli::wiring::postgres_family {
namespace {

Result<postgres::PoolOptions> poolOptions(const Config& cfg, Secrets& secrets, size_t size) {
  postgres::PoolOptions o;
  o.conninfo = cfg.pgConninfo;
  o.size = size;
  if (!cfg.pgPasswordSecret.empty()) {
    auto pw = secrets.get(cfg.pgPasswordSecret);
    if (!pw.isOk()) return pw.status();
    o.password = *pw;
  }
  return o;
}

// The schema at the version this build needs: migrated here when asked to, otherwise refused
// with the command that migrates it. A schema newer than this build is accepted: migrations
// keep the previous release working (see migrations.cc), so the old tasks of a rolling
// deployment still start after the new ones migrated.
Status checkSchema(postgres::PgPool& pool, bool migrate) {
  auto lease = pool.acquire();
  if (!lease.isOk()) return lease.status();
  auto v = postgres::schemaVersion(**lease);
  if (!v.isOk()) return v.status();
  int known = postgres::migrations().back().version;
  if (*v > known) {
    log::warn(
        "postgres schema is newer than this build, running on it",
        {"store", {}, {}, {}, "schema_newer", std::to_string(*v) + ">" + std::to_string(known)});
    return Status::ok();
  }
  if (migrate) {
    auto r = postgres::migrate(**lease);
    if (!r.isOk()) return r.status();
    for (int applied : r->applied) {
      log::info("postgres migration applied",
                {"store", {}, {}, {}, "migrated", std::to_string(applied)});
    }
    return Status::ok();
  }
  if (*v != known) {
    return Status::failedPrecondition(
        "postgres: schema version " + std::to_string(*v) + ", this build needs " +
        std::to_string(known) +
        ": run `memberflow db migrate` (or set postgres.migrate_on_start = 1)");
  }
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<MemberStore>> members(const Config& cfg, Secrets& secrets) {
  postgres::PgMemberStore::Options o;
  auto pool = poolOptions(cfg, secrets, static_cast<size_t>(cfg.pgPoolSize));
  if (!pool.isOk()) return pool.status();
  o.pool = *pool;
  auto store = std::make_unique<postgres::PgMemberStore>(o);
  MF_RETURN_IF_ERROR(checkSchema(store->pool(), cfg.pgMigrateOnStart != 0));
  return std::unique_ptr<MemberStore>(std::move(store));
}

Result<std::unique_ptr<AuditLog>> auditLog(const Config& cfg, Secrets& secrets) {
  auto po = poolOptions(cfg, secrets, 2);
  if (!po.isOk()) return po.status();
  return std::unique_ptr<AuditLog>(std::make_unique<postgres::PgAuditLog>(*po));
}

Result<Migrated> migrate(const Config& cfg, Secrets& secrets) {
  auto po = poolOptions(cfg, secrets, 1);
  if (!po.isOk()) return po.status();
  postgres::PgPool pool(*po);
  auto lease = pool.acquire();
  if (!lease.isOk()) return lease.status();
  auto r = postgres::migrate(**lease);
  if (!r.isOk()) return r.status();
  return Migrated{r->applied, r->current};
}

}  // namespace memberflow::cli::wiring::postgres_family
