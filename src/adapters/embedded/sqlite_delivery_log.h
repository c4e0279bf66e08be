// File: sqlite_delivery_log.h
// The embedded delivery log: one SQLite row per (target, event id), numbered in the order the
// pairs were first recorded, with a count of the times each was recorded.
#pragma once

#include <memory>
#include <mutex>

#include "adapters/embedded/sqlite.h"
#include "ports/delivery_log.h"

namespace memberflow::embedded {

class SqliteDeliveryLog final : public DeliveryLog {
 public:
  // Creates the file and its table when missing. Several connections (processes) may open the
  // same file: a `reconcile` reads it while `run` records.
  static Result<std::unique_ptr<SqliteDeliveryLog>> open(const std::string& path,
                                                         const SqliteDb::Options& opts = {});
  Status record(const std::vector<DeliveryRecord>& delivered) override;
  Result<std::vector<DeliveryRecord>> scan(int64_t afterSeq, size_t limit) override;
  Result<std::vector<bool>> delivered(const std::vector<DeliveryKey>& keys) override;

 private:
  explicit SqliteDeliveryLog(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace memberflow::embedded
