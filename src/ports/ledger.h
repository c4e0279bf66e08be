// File: ledger.h
// Ledger: one entry per message id, recording that ingest claimed it and what became of it.
// It is how ingest processes each message once in effect (DESIGN.md §4.2).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace memberflow {

enum class ClaimState {
  kClaimed,  // first claim of this id: process it
  kPending,  // claimed before but never completed (a crash): process it AGAIN — skipping it
             // would lose the change; the queue's dedup id and the API's idempotency make the
             // second enqueue safe
  kDone,     // completed before: skip
};

// What became of a message.
enum class MessageOutcome {
  kPending,   // claimed, not completed yet
  kEnqueued,  // a change command went to the changes queue
  kRejected,  // invalid: on the ingest DLQ with its reason
  kSkipped,   // nothing to do (a tombstone)
};
// The stored names ("" for pending, "enqueued", ...), in the ledger's tables and items.
std::string_view name(MessageOutcome o);
// nullopt for a name no adapter writes.
std::optional<MessageOutcome> messageOutcomeNamed(std::string_view name);

struct LedgerOutcome {
  std::string messageId;
  MessageOutcome outcome = MessageOutcome::kPending;
  std::string reason;  // reason code for rejected / skipped
  std::string archiveKey;
  int64_t archiveLine = 0;
};

struct LedgerEntry {
  LedgerOutcome outcome;  // kPending until completed
  int64_t claimedAtMs = 0;
  int64_t completedAtMs = 0;  // 0 while pending
  int64_t expiresAtMs = 0;
};

// Thread-safe.
class Ledger {
 public:
  virtual ~Ledger() = default;
  // Claims each id (conditional write: only if absent). Returns one state per id, in order.
  // Claiming an id twice returns kPending (or kDone once completed) and changes nothing.
  virtual Result<std::vector<ClaimState>> claim(const std::vector<std::string>& ids,
                                                int64_t nowMs) = 0;
  // Records outcomes and marks the ids done. Idempotent: completing again overwrites nothing
  // that matters (the first outcome stays).
  virtual Status complete(const std::vector<LedgerOutcome>& outcomes, int64_t nowMs) = 0;
  // NotFound when the id was never claimed (or its entry expired).
  virtual Result<LedgerEntry> get(const std::string& messageId) = 0;
  // Many at once, for `reconcile`: one per id, in order; nullopt where get() is NotFound.
  // The default calls get() per id.
  virtual Result<std::vector<std::optional<LedgerEntry>>> getMany(
      const std::vector<std::string>& ids) {
    std::vector<std::optional<LedgerEntry>> out;
    out.reserve(ids.size());
    for (const auto& id : ids) {
      auto e = get(id);
      if (e.isOk()) {
        out.emplace_back(std::move(e).value());
      } else if (e.status().code() == Code::kNotFound) {
        out.emplace_back();
      } else {
        return e.status();
      }
    }
    return out;
  }
  // Removes entries whose TTL passed; returns how many.
  virtual Result<size_t> purgeExpired(int64_t nowMs) = 0;
};

inline std::string_view name(MessageOutcome o) {
  switch (o) {
    case MessageOutcome::kPending: return "";
    case MessageOutcome::kEnqueued: return "enqueued";
    case MessageOutcome::kRejected: return "rejected";
    case MessageOutcome::kSkipped: return "skipped";
  }
  return "";
}

inline std::optional<MessageOutcome> messageOutcomeNamed(std::string_view n) {
  for (auto o : {MessageOutcome::kPending, MessageOutcome::kEnqueued, MessageOutcome::kRejected,
                 MessageOutcome::kSkipped}) {
    if (name(o) == n) return o;
  }
  return std::nullopt;
}

}  // namespace memberflow
