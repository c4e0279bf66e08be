#include "adapters/postgres/pg_audit_log.h"

#include <string>

namespace memberflow::postgres {

Status PgAuditLog::append(const AuditEntry& e) {
  if (e.who.empty() || e.action.empty())
    return Status::invalidArgument("an audit entry needs who and what");
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  return (*lease)
      ->exec("mf_audit_append",
             "INSERT INTO audit(at, who, action, target, count, detail)"
             " VALUES($1, $2, $3, $4, $5, $6)",
             {std::to_string(e.atMs), e.who, e.action, e.target, std::to_string(e.count), e.detail})
      .status();
}

Result<std::vector<AuditEntry>> PgAuditLog::recent(size_t limit) {
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  auto r = (*lease)->exec("mf_audit_recent",
                          "SELECT seq, at, who, action, target, count, detail FROM audit"
                          " ORDER BY seq DESC LIMIT $1",
                          {std::to_string(limit)});
  if (!r.isOk()) return r.status();
  std::vector<AuditEntry> out;
  for (int i = 0; i < r->rows(); ++i) {
    AuditEntry e;
    e.seq = r->i64(i, 0);
    e.atMs = r->i64(i, 1);
    e.who = r->str(i, 2);
    e.action = r->str(i, 3);
    e.target = r->str(i, 4);
    e.count = r->i64(i, 5);
    e.detail = r->str(i, 6);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace memberflow::postgres
