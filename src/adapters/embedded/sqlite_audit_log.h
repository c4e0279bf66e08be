// File: sqlite_audit_log.h
// The AuditLog in SQLite (<data_dir>/audit.db), append-only.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "adapters/embedded/sqlite.h"
#include "ports/audit_log.h"

namespace memberflow::embedded {

class SqliteAuditLog final : public AuditLog {
 public:
  static Result<std::unique_ptr<SqliteAuditLog>> open(const std::string& path,
                                                      const SqliteDb::Options& opts);
  Status append(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> recent(size_t limit) override;

 private:
  explicit SqliteAuditLog(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace memberflow::embedded
