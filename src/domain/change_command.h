// File: change_command.h
// The change command on the changes queue (DESIGN.md §3.2): what ingest hands to sync.
// Group id = memberId, dedup id = messageId.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/json.h"
#include "common/status.h"
#include "domain/member.h"

namespace memberflow {

// Where a change came from: enough to find the raw record again.
struct Lineage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string archiveKey;   // object holding the raw record
  int64_t archiveLine = 0;  // 1-based line within that object
  bool operator==(const Lineage&) const = default;
};

json::object lineageJson(const Lineage& l);
// json::serialize(lineageJson(l)), the same bytes, written directly (the queued command and
// sync's requests carry it for every change).
void appendLineageJson(std::string& out, const Lineage& l);

struct ChangeCommand {
  enum class Op { kUpsert, kDelete };
  std::string messageId;
  std::string memberId;
  Op op = Op::kUpsert;
  int64_t sourceSequence = 0;
  std::optional<Member> member;  // set for upserts
  Lineage lineage;
  int64_t receivedAtMs = 0;
  int64_t sourceTsMs = 0;  // for end-to-end lag metrics (0 when unknown)
};

std::string serializeCommand(const ChangeCommand& c);
// InvalidArgument when the text is not a well-formed command (a poison message).
Result<ChangeCommand> parseCommand(std::string_view text, int64_t todayDays);

}  // namespace memberflow
