// File: dynamodb_parking_store.h
// ParkingStore (ports/parking.h) on Amazon DynamoDB: one table, hash key memberId (S), range
// key sk (S). Per parked member one item sk = "#member" (state, dead change, reason, parkedAt,
// the seq counters nextSeq and headSeq, and a version), and one item per held change,
// sk = "h#" + its seq as 20 digits (offset by 2^63, so negative seqs sort first and a Query
// returns the changes in order). When done() unparks a member, its member item stays as a
// marker (state "unparked", no parkedAt, dead change or reason) that every method takes for a
// member not parked, keeping nextSeq and headSeq: parking it again goes on from them, so a seq
// is never handed out twice for a member and a late done() of an earlier drain removes nothing
// held since.
//
// Every write that adds held changes or unparks is one TransactWriteItems conditioned on the
// member item's version, and every such write advances the version. A condition on the member
// item alone (a ConditionCheck) would not do: a hold appending while done unparks writes other
// items than done reads, so both could commit and leave held changes of an unparked member.
// Advancing the version makes them conflict: whichever commits second fails its condition, and
// is read and tried again (hold then answers FailedPrecondition, done finds a change left).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <random>

#include "adapters/aws/aws_client.h"
#include "ports/clock.h"
#include "ports/parking.h"

namespace memberflow::aws {

class DynamoDbParkingStore final : public ParkingStore {
 public:
  // `clock` paces the retries of a write that lost a race, and of BatchGetItem's unprocessed
  // keys.
  DynamoDbParkingStore(AwsClient& client, std::string table, const Clock& clock)
      : client_(client), table_(std::move(table)), clock_(clock) {}
  // Creates the table (on-demand capacity) if absent: tests and local use.
  Status ensureTable();

  Status park(const std::string& memberId, const std::string& deadMessageId,
              const std::string& reason, int64_t nowMs) override;
  Result<std::vector<std::optional<ParkedMember>>> state(
      const std::vector<std::string>& memberIds) override;
  // At most kMaxHold changes per call (a transaction holds at most 100 items), and each held
  // change within an item's 400 KB: InvalidArgument beyond, nothing added.
  Status hold(const std::string& memberId, const std::vector<ParkedChange>& changes,
              int64_t nowMs) override;
  Status release(const std::string& memberId, const std::optional<ParkedChange>& head,
                 int64_t nowMs) override;
  Result<std::vector<ParkedChange>> held(const std::string& memberId, size_t max) override;
  Result<bool> done(const std::string& memberId, const std::vector<int64_t>& seqs) override;
  // Deletes every held change and leaves the member item as the unparked marker (its dead
  // change and reason removed), the last transaction conditioned on the member item's version.
  Result<int64_t> erase(const std::string& memberId) override;
  // released and list Scan the table: they are for the drain loop's pass over released members
  // and for operators, not for every message.
  Result<std::vector<std::string>> released(size_t max) override;
  Result<std::vector<ParkedMember>> list(size_t max) override;

  static constexpr size_t kMaxHold = 99;

 private:
  struct MemberItem {
    ParkedMember member;
    int64_t nextSeq = 1;
    int64_t headSeq = 0;
    int64_t version = 0;
  };
  struct HeldKey {
    int64_t seq = 0;
    std::string messageId;
  };
  Result<json::value> call(const std::string& op, json::object body);
  Status transact(json::array items);
  Result<std::optional<MemberItem>> getMember(const std::string& memberId);
  // The member's held-change items in seq order, at most max; `extra` adds to each Query (a
  // projection).
  Result<std::vector<json::object>> queryHeld(const std::string& memberId, size_t max,
                                              const json::object& extra);
  Result<std::vector<HeldKey>> heldKeys(const std::string& memberId);
  Result<int64_t> countHeld(const std::string& memberId);
  Result<std::vector<MemberItem>> scanMembers(bool releasedOnly);
  // Deletes the member's held changes `seqs`, at most kTransactItems per transaction. With
  // `unparkVersion`, the last transaction also leaves the member item as the unparked marker,
  // conditioned on that version (and with `onlyReleased`, on its being released): a write since
  // then fails it with TransactionCanceledException.
  Status removeHeld(const std::string& memberId, const std::vector<int64_t>& seqs,
                    std::optional<int64_t> unparkVersion, bool onlyReleased);
  // Runs `attempt` again, after a backoff, while it fails because a concurrent write won.
  Result<bool> retryingConflicts(const std::function<Result<bool>()>& attempt);
  void backoff(int attempt);

  AwsClient& client_;
  std::string table_;
  const Clock& clock_;
  std::mutex rngMu_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace memberflow::aws
