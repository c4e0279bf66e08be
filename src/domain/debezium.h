// File: debezium.h
// Raw records as they come off the change source, and the decoding of Debezium change events
// of CoreSystem's member table (DESIGN.md §3.1): envelope with or without the schema wrapper,
// c/u/d/r ops, tombstones, message id and source sequence. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace memberflow {

// One record as the change source delivered it.
struct SourceRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestampMs = 0;  // the source's record timestamp (Kafka CreateTime)
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> key;    // raw bytes; nullopt for a null key
  std::optional<std::string> value;  // raw bytes; nullopt for a tombstone
};

enum class ChangeOp { kCreate, kUpdate, kDelete, kRead, kTombstone };
const char* changeOpName(ChangeOp op);

// The result of decoding one record. messageId is always set, even when decoding failed, so
// that a bad record can be ledgered and dead-lettered under a stable id.
struct DecodedChange {
  std::string messageId;
  Status status;  // ok, or a rejection() with a stable reason code
  ChangeOp op = ChangeOp::kTombstone;
  std::string memberId;                // from the key, else from the row
  int64_t sourceSequence = 0;          // source.lsn, else source.ts_ms
  int64_t sourceTsMs = 0;              // source.ts_ms (0 when absent)
  std::optional<json::object> after;   // the row after the change (c/u/r)
  std::optional<json::object> before;  // the row before (u/d), when present
};

struct DecodeOptions {
  size_t maxValueBytes = 1 << 20;  // oversized records are rejected
};

// Message id (the dedup key): header `id` or `ce_id`; else "<source.name>:<source.lsn>";
// else lowercase hex SHA-256 of key bytes + 0x00 + value bytes.
std::string messageIdFor(const SourceRecord& r, const json::object* source);

DecodedChange decodeChange(const SourceRecord& r, const DecodeOptions& opts = {});

// decodeChange(r, opts).messageId without the rest of the decoding (no key parse, no rows
// copied, no validation): for readers that need only the id, such as reconcile.
std::string messageIdOf(const SourceRecord& r, const DecodeOptions& opts = {});

// Strips the optional {"schema":..., "payload":...} wrapper. The non-const form lets a caller
// that owns the parsed document move parts out of it.
const json::value& unwrapPayload(const json::value& v);
json::value& unwrapPayload(json::value& v);

}  // namespace memberflow
