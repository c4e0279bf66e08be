// File: ingest.h
// The ingest stage (DESIGN.md §1): poll a batch -> archive it raw -> decode, validate,
// transform (pure: nothing leaves the stage) -> claim message ids in the ledger -> enqueue
// commands (group = member id, dedup = message id) or dead-letter rejects -> mark the ledger
// done -> commit offsets. run() keeps two batches in flight (see there).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <stop_token>
#include <string>

#include "domain/change_command.h"
#include "domain/debezium.h"
#include "ports/change_source.h"
#include "ports/clock.h"
#include "ports/ledger.h"
#include "ports/object_store.h"
#include "ports/queue.h"
#include "ports/retry.h"

namespace memberflow {

struct IngestOptions {
  size_t maxBatch = 1000;
  std::chrono::milliseconds pollWait{200};
  DecodeOptions decode;
  std::optional<std::string> kmsKeyId;  // SSE-KMS for the raw archive
  // zlib level of the raw archive objects. Measured on the generator's Debezium records: level
  // 6 (zlib's default) costs 10.2 us a record for 12.1x, level 3 4.8 us for 9.7x, level 1
  // 3.9 us for 8.5x; at 6 the compression was a fifth of ingest's CPU.
  int archiveGzipLevel = 3;
  BackoffPolicy backoff{200, 10000, 0};  // after a failed batch; no attempt limit in run()
  uint64_t jitterSeed = 0;               // 0: random (tests fix it)
};

struct IngestReport {
  size_t records = 0, enqueued = 0, rejected = 0, skipped = 0, duplicates = 0;
  std::map<int32_t, int64_t> nextOffsets;  // what may be committed after this batch
};

// The object key of a raw batch: derived from the batch's coordinates only.
std::string rawArchiveKey(const std::string& topic, int32_t partition, int64_t firstOffset,
                          int64_t lastOffset, int64_t firstTimestampMs);
// One NDJSON line of the raw archive for a record, and back. A redaction marker (below) is no
// record: nullopt, so `replay` skips what `erase` removed.
std::string rawArchiveLine(const SourceRecord& r);
std::optional<SourceRecord> recordFromArchiveLine(const json::object& line,
                                                  const std::string& topic);
// What `memberflow erase` leaves in place of an archived record of the member: its coordinates
// and message id, no key, value or headers:
// {"partition","offset","messageId","redacted":"erased","erasedAt"}.
std::string redactedArchiveLine(int32_t partition, int64_t offset, const std::string& messageId,
                                int64_t erasedAtMs);
bool isRedacted(const json::object& line);

class IngestStage {
 public:
  IngestStage(ChangeSource& source, ObjectStore& store, Ledger& ledger, Queue& changes, Queue& dlq,
              const Clock& clock, IngestOptions opts)
      : source_(source),
        store_(store),
        ledger_(ledger),
        changes_(changes),
        dlq_(dlq),
        clock_(clock),
        opts_(std::move(opts)) {}

  // Archives, ledgers and enqueues (or dead-letters) one batch. Does not commit: the caller
  // commits report.nextOffsets once this returns ok. Unavailable: a dependency failed; the
  // batch must be processed again (every step is idempotent).
  // `archived`, when given, holds the lineage of records that are already in the raw archive
  // (a replay): they are not archived again.
  Result<IngestReport> process(const std::vector<SourceRecord>& batch,
                               const std::vector<Lineage>* archived = nullptr);

  // Polls, processes and commits until stop is requested; after a failure rewinds to the
  // committed offsets (so nothing is skipped) and backs off (Retry, on the clock; a stop ends
  // the backoff at once). An empty poll is no failure: the source's poll wait paces it.
  // Two batches in flight: batch N+1 is prepared on a second thread while this one finishes
  // and commits batch N. A failure drops both; a rebalance that revoked partitions drops the
  // prepared batch (no backoff); at a stop the prepared batch is finished and committed.
  void run(std::stop_token stop);

  // Re-runs decode and transform on a dead-lettered record (after a fix): enqueues it when it
  // is valid now. FailedPrecondition when it is still invalid (it stays in the DLQ).
  // `dryRun`: only re-validates (the console's "what would happen"); nothing is sent.
  Status redrive(const std::string& dlqBody, bool dryRun = false);

 private:
  // A batch archived, decoded and transformed, whose ledger claims, queue sends and offsets
  // are not done yet (run() overlaps one batch's prepare() with the previous one's finish()).
  struct Item {
    // What the ledger is told when the record is no duplicate: kEnqueued (a command),
    // kRejected or kSkipped, with the reason and the archive coordinates.
    LedgerOutcome outcome;
    std::string memberId;
    OutgoingMessage message;  // the command, or the DLQ entry of a reject
  };
  struct Prepared {
    std::chrono::steady_clock::duration prepareTime{};
    int64_t now = 0;
    IngestReport report;  // records and nextOffsets; the counts are finish()'s
    std::vector<Item> items;
  };
  // Archive, decode, validate, transform: touches only the object store (and no ledger, queue
  // or source), so it may run on another thread while finish() runs.
  Result<Prepared> prepare(const std::vector<SourceRecord>& batch,
                           const std::vector<Lineage>* archived) const;
  // Claim, enqueue and dead-letter what is not a duplicate, complete the ledger.
  Result<IngestReport> finish(Prepared batch);

  ChangeSource& source_;
  ObjectStore& store_;
  Ledger& ledger_;
  Queue& changes_;
  Queue& dlq_;
  const Clock& clock_;
  IngestOptions opts_;
};

}  // namespace memberflow
