// File: generator.h
// Synthetic raw messages for demos, tests and benchmarks: Debezium change events of the
// member table in the `produce` JSONL format (DESIGN.md §7). Deterministic for a seed.
// Besides creates, updates and deletes it mixes in, at configurable ratios: exact duplicates,
// stale replays (an old change re-published under a new id), Kafka tombstones after deletes,
// no-op updates, the schema wrapper, and invalid records of several kinds.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace memberflow {

struct GeneratorOptions {
  uint64_t seed = 1;
  int64_t count = 1000;   // records to emit
  int64_t members = 100;  // distinct member ids
  double duplicateRatio = 0.03;
  double staleRatio = 0.02;
  double deleteRatio = 0.03;
  double tombstoneRatio = 0.5;  // of deletes, followed by a Kafka tombstone
  double invalidRatio = 0.03;
  double noopRatio = 0.03;
  double schemaWrapperRatio = 0.05;
  int64_t startTsMs = 1767225600000;  // 2026-01-01T00:00:00Z
};

// Calls emit once per JSONL line (without the newline).
void generateRecords(const GeneratorOptions& opts, const std::function<void(std::string)>& emit);

}  // namespace memberflow
