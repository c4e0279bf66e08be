// The sync stage's parking (sync.h, DESIGN.md §4 guarantee 6): holding the changes of parked
// members, and draining released members in order. Apart from sync.cc, which decides and applies.
#include <map>

#include "common/log.h"
#include "common/metrics.h"
#include "stages/sync.h"

namespace memberflow {
namespace {
constexpr const char* kStage = "sync";
}  // namespace

ParkedChange SyncStage::parkedChange(const ReceivedMessage& m) {
  ParkedChange c;
  c.messageId = m.dedupId;
  c.body = m.body;
  c.attributes = m.attributes;
  return c;
}

Result<std::vector<bool>> SyncStage::holdParked(const std::vector<ReceivedMessage>& batch) {
  std::vector<bool> held(batch.size(), false);
  std::vector<std::string> members;
  std::map<std::string, std::vector<size_t>> byMember;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto& idx = byMember[batch[i].groupId];
    if (idx.empty()) members.push_back(batch[i].groupId);
    idx.push_back(i);
  }
  auto states = parking_->state(members);
  if (!states.isOk()) return states.status();
  for (size_t k = 0; k < members.size(); ++k) {
    if (!(*states)[k]) continue;
    const auto& idx = byMember[members[k]];
    // The dead change itself, come back (a crash after its DLQ copy and the park, before its
    // removal): its DLQ copy is the one a release puts first; holding it too would put it
    // behind its own successors. It only leaves the queue.
    const std::string& dead = (*states)[k]->deadMessageId;
    std::vector<ParkedChange> changes;
    for (size_t i : idx)
      if (batch[i].dedupId != dead) changes.push_back(parkedChange(batch[i]));
    Status s = changes.empty() ? Status::ok() : parking_->hold(members[k], changes, clock_.nowMs());
    if (s.code() == Code::kFailedPrecondition) continue;  // unparked meanwhile: apply them
    MF_RETURN_IF_ERROR(s);
    for (size_t i : idx) {
      held[i] = true;
      if (batch[i].dedupId == dead) {
        log::info("dead change dropped from the queue",
                  {kStage, dead, members[k], {}, "dropped", "already_dead_lettered"});
        continue;
      }
      log::info("change held", {kStage, batch[i].dedupId, members[k], {}, "held", "parked"});
    }
  }
  return held;
}

Result<SyncReport> SyncStage::drainReleased() {
  SyncReport report;
  if (!parking_) return report;
  drain_->lastMs = clock_.nowMs();
  // One drain at a time: another receive loop that finds one under way goes on with its batch
  // (waiting would spend that batch's visibility, and draining again at once would retry a
  // held change that just failed without its backoff).
  std::unique_lock drainLock(drain_->mu, std::try_to_lock);
  if (!drainLock.owns_lock()) return report;
  auto members = parking_->released(opts_.maxBatch);
  if (!members.isOk()) return members.status();
  for (const std::string& member : *members) {
    auto held = parking_->held(member, opts_.maxBatch);
    if (!held.isOk()) return held.status();
    std::vector<int64_t> finished;
    for (const ParkedChange& c : *held) {
      ReceivedMessage m;
      m.messageId = "parked-" + std::to_string(c.seq);
      m.groupId = member;
      m.dedupId = c.messageId;
      m.body = c.body;
      m.attributes = c.attributes;
      std::string attemptKey = member + "/" + std::to_string(c.seq);
      m.receiveCount = drain_->attempts[attemptKey] + 1;
      Decision d = apply(m);
      if (d.verdict == Verdict::kRetry && apiUnavailable(d)) {
        report.apiUnavailable = true;
        break;  // an outage: try again later, no attempt spent
      }
      if (d.verdict == Verdict::kRetry && spendsAnAttempt(d)) {
        if (m.receiveCount < opts_.backoff.maxAttempts) {
          ++drain_->attempts[attemptKey];
          ++report.retried;
          break;  // the rest stays behind it, in order
        }
        d.verdict = Verdict::kDeadLetter;
        d.exhausted = true;
      }
      if (d.verdict == Verdict::kRetry) break;
      drain_->attempts.erase(attemptKey);
      finished.push_back(c.seq);
      if (d.verdict == Verdict::kDone) {
        ++report.applied;
        log::info("held change applied", {kStage, m.dedupId, member, {}, "applied", {}});
        continue;
      }
      if (d.verdict == Verdict::kStale) {
        ++report.stale;
        log::info("held change stale", {kStage, m.dedupId, member, {}, "stale", {}});
        continue;
      }
      // Dead again: on the DLQ, and the member parked again with the rest still held.
      std::string reason = reasonCode(d);
      OutgoingMessage o{member, m.dedupId + ":dlq:" + m.messageId, m.body, m.attributes};
      o.attributes["reason"] = reason;
      o.attributes["stage"] = kStage;
      MF_RETURN_IF_ERROR(dlq_.send({o}));
      MF_RETURN_IF_ERROR(parking_->park(member, m.dedupId, reason, clock_.nowMs()));
      ++report.deadLettered;
      log::warn("member parked", {kStage, m.dedupId, member, {}, "parked", reason});
      break;
    }
    auto unparked = parking_->done(member, finished);
    if (!unparked.isOk()) return unparked.status();
    if (*unparked) {
      ++report.unparked;
      log::info("member unparked", {kStage, {}, member, {}, "unparked", {}});
    }
  }
  // The stage's own counters (sync.cc's are these same series).
  auto& m = Metrics::instance();
  m.records(kStage, "applied").Increment(static_cast<double>(report.applied));
  m.records(kStage, "stale").Increment(static_cast<double>(report.stale));
  m.records(kStage, "dead_lettered").Increment(static_cast<double>(report.deadLettered));
  return report;
}

}  // namespace memberflow
