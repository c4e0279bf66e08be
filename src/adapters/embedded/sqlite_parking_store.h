// File: sqlite_parking_store.h
// The embedded parking store (ports/parking.h): one SQLite file (suggested
// <data_dir>/parking.db) with a row per parked member and a row per held change. Each write
// (park, hold, release, done) is one transaction, so `done` unparks a member only when the same
// transaction saw no held change left.
#pragma once

#include <memory>
#include <mutex>

#include "adapters/embedded/sqlite.h"
#include "ports/parking.h"

namespace memberflow::embedded {

class SqliteParkingStore final : public ParkingStore {
 public:
  // Creates the file and its tables when missing. Several connections (processes) may open the
  // same file: `memberflow park release` writes it while `run` holds and drains.
  static Result<std::unique_ptr<SqliteParkingStore>> open(const std::string& path,
                                                          const SqliteDb::Options& opts = {});
  Status park(const std::string& memberId, const std::string& deadMessageId,
              const std::string& reason, int64_t nowMs) override;
  Result<std::vector<std::optional<ParkedMember>>> state(
      const std::vector<std::string>& memberIds) override;
  Status hold(const std::string& memberId, const std::vector<ParkedChange>& changes,
              int64_t nowMs) override;
  Status release(const std::string& memberId, const std::optional<ParkedChange>& head,
                 int64_t nowMs) override;
  Result<std::vector<ParkedChange>> held(const std::string& memberId, size_t max) override;
  Result<bool> done(const std::string& memberId, const std::vector<int64_t>& seqs) override;
  Result<std::vector<std::string>> released(size_t max) override;
  // secure_delete on: the held changes' bytes are overwritten in the file.
  Result<int64_t> erase(const std::string& memberId) override;
  Result<std::vector<ParkedMember>> list(size_t max) override;

 private:
  explicit SqliteParkingStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  Status insertHeld(const std::string& memberId, int64_t seq, const ParkedChange& c, int64_t nowMs);
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace memberflow::embedded
