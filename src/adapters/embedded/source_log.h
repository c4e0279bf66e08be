// File: source_log.h
// The embedded change source: a durable, partitioned, append-only log in SQLite with
// consumer-group committed offsets — Kafka's semantics on one machine. Records are assigned
// to partitions with Kafka's default partitioner (murmur2 of the key bytes), so a member
// lands in the same partition number in both modes.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/embedded/sqlite.h"
#include "ports/change_source.h"

namespace memberflow::embedded {

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) and default partition.
int32_t kafkaMurmur2(std::string_view data);
int32_t defaultPartition(std::string_view key, int32_t partitions);

class SourceLog final : public ChangeSource,
                        public ChangeSink,
                        public SourceReader,
                        public SourceRedactor {
 public:
  // Opens (creating) the log at path. The partition count is fixed when the log is created;
  // opening with a different count keeps the stored one.
  static Result<std::unique_ptr<SourceLog>> open(const std::string& path, std::string topic,
                                                 int32_t partitions, std::string group,
                                                 const SqliteDb::Options& opts = {});

  Result<std::vector<SourceRecord>> poll(size_t maxRecords,
                                         std::chrono::milliseconds wait) override;
  Status commit(const std::map<int32_t, int64_t>& nextOffsets) override;
  Status rewindToCommitted() override;
  Result<Progress> progress() override;

  Status append(const std::vector<ProduceRecord>& records) override;
  int32_t partitionCount() const override { return partitions_; }

  Result<std::map<int32_t, PartitionRange>> ranges() override;
  Result<int64_t> offsetForTime(int32_t partition, int64_t tsMs) override;
  Result<std::vector<SourceRecord>> read(int32_t partition, int64_t from, int64_t to,
                                         size_t max) override;

  // Rewrites the records in place (secure_delete on: the old bytes are overwritten in the file;
  // the WAL keeps them until scrubDatabase).
  Result<int64_t> redact(const Replace& replace) override;

  // Committed next offsets of the group, and the log end of each partition (for lag).
  Result<std::map<int32_t, int64_t>> committed();
  Result<std::map<int32_t, int64_t>> endOffsets();

 private:
  SourceLog(std::unique_ptr<SqliteDb> db, std::string topic, int32_t partitions, std::string group)
      : db_(std::move(db)),
        topic_(std::move(topic)),
        partitions_(partitions),
        group_(std::move(group)) {}
  Result<std::vector<SourceRecord>> readOnce(size_t maxRecords);
  // The record at the current row of a "SELECT off, ts, key, value, headers" statement.
  SourceRecord recordOfRow(Stmt& s, int32_t partition) const;

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
  std::string topic_;
  int32_t partitions_;
  std::string group_;
  std::map<int32_t, int64_t> position_;
  int32_t nextPartition_ = 0;  // round-robin start, so no partition starves
};

}  // namespace memberflow::embedded
