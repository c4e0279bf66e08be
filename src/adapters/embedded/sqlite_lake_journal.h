// File: sqlite_lake_journal.h
// The embedded lake journal: event ids and staged objects in SQLite.
#pragma once

#include <memory>
#include <mutex>

#include "adapters/embedded/sqlite.h"
#include "ports/lake_journal.h"

namespace memberflow::embedded {

class SqliteLakeJournal final : public LakeJournal {
 public:
  static Result<std::unique_ptr<SqliteLakeJournal>> open(const std::string& path,
                                                         const SqliteDb::Options& opts = {});
  Result<int64_t> reserve(size_t n) override;
  Result<std::vector<bool>> placed(const std::vector<std::string>& eventIds) override;
  Result<std::vector<std::string>> objectsOf(const std::vector<std::string>& eventIds) override;
  Status stage(const StagedObject& object, const std::vector<std::string>& eventIds) override;
  Result<std::vector<StagedObject>> staged() override;
  Status restage(const StagedObject& object) override;
  Status written(const std::string& key) override;

 private:
  Result<std::vector<std::string>> keysOf(const std::vector<std::string>& ids);
  explicit SqliteLakeJournal(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace memberflow::embedded
