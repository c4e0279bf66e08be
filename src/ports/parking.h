// File: parking.h
// ParkingStore: members parked by sync (DESIGN.md §4 guarantee 6, issue 18). When a change is
// dead-lettered for a cause of its own (a 4xx retrying cannot fix, its attempts spent on its
// own errors, a poison message), its member is parked: the member's later changes are held
// here, in order, instead of being applied, while every other member flows. Releasing the
// member (redriving its dead change, or `memberflow park release`) puts the dead change at the
// head of its held changes; sync then applies them in order and unparks the member once none
// is left. Durable outside the queue (a FIFO group's visibility is no place to keep them).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace memberflow {

// One held change: the changes-queue message as sync received it.
struct ParkedChange {
  int64_t seq = 0;        // order within the member, assigned by the store (hold / release)
  std::string messageId;  // the change's message id (the queue message's dedup id)
  std::string body;       // the change command
  std::map<std::string, std::string> attributes;
  int64_t heldAtMs = 0;
};

struct ParkedMember {
  enum class State {
    kParked,    // held until released
    kReleased,  // released: sync applies its held changes in order, then unparks it
  };
  std::string memberId;
  State state = State::kParked;
  std::string deadMessageId;  // the change whose dead letter parked it (the latest one)
  std::string reason;         // that dead letter's reason code
  int64_t parkedAtMs = 0;
  int64_t held = 0;  // changes held now
};

// Thread-safe.
class ParkingStore {
 public:
  virtual ~ParkingStore() = default;
  // Parks the member (state kParked), or parks again a released one whose held change failed:
  // records the dead change's id and reason (parkedAtMs keeps the first park's time). Held
  // changes stay, in order.
  virtual Status park(const std::string& memberId, const std::string& deadMessageId,
                      const std::string& reason, int64_t nowMs) = 0;
  // One entry per member id, in order; nullopt when the member is not parked.
  virtual Result<std::vector<std::optional<ParkedMember>>> state(
      const std::vector<std::string>& memberIds) = 0;
  // Appends the changes to the member's held changes, in order (seq assigned here), whether it
  // is parked or released (a change arriving while a released member drains waits behind the
  // released ones). A change whose message id is held already is not added again (a
  // redelivered message). All or nothing. FailedPrecondition (nothing added): the member is not
  // parked (any more) — the caller applies the changes instead. InvalidArgument: more changes
  // or bigger ones than the store takes at once (DynamoDB: 99, ~350 KiB each).
  virtual Status hold(const std::string& memberId, const std::vector<ParkedChange>& changes,
                      int64_t nowMs) = 0;
  // Releases a parked member: state kReleased, and `head` (the dead change, when given) put
  // before every held change. NotFound: the member is not parked. Idempotent for a member
  // released already (a head held already is not added twice).
  virtual Status release(const std::string& memberId, const std::optional<ParkedChange>& head,
                         int64_t nowMs) = 0;
  // The member's held changes in order, at most max (none for a member not parked).
  virtual Result<std::vector<ParkedChange>> held(const std::string& memberId, size_t max) = 0;
  // Removes held changes that are done (applied, stale or dead-lettered), by seq. When none is
  // left and the member is released, unparks it (atomically with the check): returns true.
  virtual Result<bool> done(const std::string& memberId, const std::vector<int64_t>& seqs) = 0;
  // Members in state kReleased, at most max (sync drains them).
  virtual Result<std::vector<std::string>> released(size_t max) = 0;
  // Forgets the member (`memberflow erase`): its parking record and every held change (they
  // hold its data) are deleted; returns how many held changes went. Idempotent: 0 for a member
  // not parked. The default: FailedPrecondition (not supported).
  virtual Result<int64_t> erase(const std::string& memberId) {
    (void)memberId;
    return Status::failedPrecondition("this parking store cannot erase");
  }
  // Every parked member (both states), oldest parked first, at most max.
  virtual Result<std::vector<ParkedMember>> list(size_t max) = 0;
};

}  // namespace memberflow
