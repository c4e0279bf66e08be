// File: pg_audit_log.h
// The AuditLog in PostgreSQL (the `audit` table, migration 6): the console's record of who did
// what, shared by every API task of a distributed deployment and kept across restarts.
#pragma once

#include "adapters/postgres/pg.h"
#include "ports/audit_log.h"

namespace memberflow::postgres {

class PgAuditLog final : public AuditLog {
 public:
  // REQUIRES: the schema is at version 6 or later (the member store's check, or db migrate).
  explicit PgAuditLog(PoolOptions o) : pool_(std::move(o)) {}
  Status append(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> recent(size_t limit) override;

 private:
  PgPool pool_;
};

}  // namespace memberflow::postgres
