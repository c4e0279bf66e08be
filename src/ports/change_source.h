// File: change_source.h
// ChangeSource: where raw change records come from (a Kafka topic, or the embedded log), and
// ChangeSink: how records are appended to it (`memberflow produce`, tests, benchmarks).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "domain/debezium.h"

namespace memberflow {

// A consumer in a consumer group. Not thread-safe: one stage loop owns it.
class ChangeSource {
 public:
  virtual ~ChangeSource() = default;

  // Returns up to maxRecords records following the consumer's position, in offset order
  // within each partition, waiting at most `wait` for the first one. An empty batch is not an
  // error. Advances the in-memory position only; nothing is committed.
  // Unavailable: transient failure, poll again later.
  virtual Result<std::vector<SourceRecord>> poll(size_t maxRecords,
                                                 std::chrono::milliseconds wait) = 0;

  // Commits, for each partition, the offset of the next record to consume (last done + 1).
  // REQUIRES: every record below that offset is durably archived, ledgered and enqueued or
  // dead-lettered (DESIGN.md §4.1). Idempotent: committing the same offsets again changes
  // nothing; an offset below the committed one is ignored.
  virtual Status commit(const std::map<int32_t, int64_t>& nextOffsets) = 0;

  // Moves the position back to the committed offsets, so that the records of a batch that
  // failed half-way are delivered again by the next poll.
  virtual Status rewindToCommitted() = 0;

  // How many times partitions have been taken from this consumer (a rebalance's revocation,
  // which happens inside poll()). A batch polled before the count moved may hold records
  // another consumer owns now: ingest drops such a batch instead of finishing it. Sources that
  // never rebalance answer 0.
  virtual uint64_t revocations() const { return 0; }

  // For operators and idle detection: records in the source (sum of the partitions' end
  // offsets) and how many of them this group has committed.
  struct Progress {
    int64_t end = 0;
    int64_t committed = 0;
    int64_t lag() const { return end - committed; }
  };
  virtual Result<Progress> progress() = 0;
};

// Reads a topic's records by offset, apart from any consumer's position and without joining
// the consumer group (so a running pipeline is not rebalanced): what `memberflow reconcile`
// walks (issue 18). Not thread-safe: one caller owns it.
class SourceReader {
 public:
  struct PartitionRange {
    int64_t low = 0;        // the first offset still held (retention may have removed older)
    int64_t high = 0;       // the next offset to be written
    int64_t committed = 0;  // the reader's group's committed next offset (low when none)
  };
  virtual ~SourceReader() = default;
  // Every partition of the topic, empty ones included.
  virtual Result<std::map<int32_t, PartitionRange>> ranges() = 0;
  // The first offset of `partition` whose timestamp is at or after tsMs; high when none.
  virtual Result<int64_t> offsetForTime(int32_t partition, int64_t tsMs) = 0;
  // The records of `partition` with from <= offset < to, in offset order, at most `max`.
  // InvalidArgument: no such partition.
  virtual Result<std::vector<SourceRecord>> read(int32_t partition, int64_t from, int64_t to,
                                                 size_t max) = 0;
};

// Rewrites records of a log memberflow owns (the embedded source log: in embedded mode it IS
// memberflow's copy of the topic). A Kafka topic is not memberflow's to rewrite: it has none.
class SourceRedactor {
 public:
  // What a record becomes: its key, value and headers (partition, offset and timestamp stay).
  struct Replacement {
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  using Replace = std::function<std::optional<Replacement>(const SourceRecord&)>;
  virtual ~SourceRedactor() = default;
  // Calls `replace` on every record and, where it returns a replacement, overwrites the
  // record's key, value and headers with it, durably, without leaving the old bytes in the
  // log's files. Returns how many records were rewritten. Not thread-safe with the log's
  // consumer: run it with the pipeline stopped. Idempotent when `replace` is.
  virtual Result<int64_t> redact(const Replace& replace) = 0;
};

// A record to append. An absent partition means "hash of the key bytes", so that one member
// always lands in one partition.
struct ProduceRecord {
  std::optional<std::string> key;
  std::optional<std::string> value;  // nullopt: a tombstone
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<int32_t> partition;
  std::optional<int64_t> timestampMs;  // default: now
};

class ChangeSink {
 public:
  virtual ~ChangeSink() = default;
  // Appends the records durably, in order per partition. All or nothing for the embedded log.
  // InvalidArgument: a partition out of range. Unavailable: retry.
  virtual Status append(const std::vector<ProduceRecord>& records) = 0;
  virtual int32_t partitionCount() const = 0;
};

}  // namespace memberflow
