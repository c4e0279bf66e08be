// The sync stage's loop (sync.h): rounds of changes per member, their outcomes, the DLQ and
// the pause while the API is down. Requests and their classification: sync_requests.cc;
// parking: sync_parking.cc.
#include "stages/sync.h"

#include <algorithm>
#include <map>

#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "domain/change_command.h"
#include "stages/parallel.h"

namespace memberflow {
namespace {

constexpr const char* kStage = "sync";

struct Counters {
  prometheus::Counter& in = Metrics::instance().records(kStage, "in");
  prometheus::Counter& applied = Metrics::instance().records(kStage, "applied");
  prometheus::Counter& stale = Metrics::instance().records(kStage, "stale");
  prometheus::Counter& dlq = Metrics::instance().records(kStage, "dead_lettered");
  prometheus::Counter& retried = Metrics::instance().records(kStage, "retried");
  prometheus::Histogram& batch = Metrics::instance().batchSeconds(kStage);
};
Counters& counters() {
  static Counters c;
  return c;
}

}  // namespace

bool SyncStage::pastDeadline(int64_t startBy) const {
  return startBy > 0 && clock_.nowMs() >= startBy;
}

// Rounds: each round sends the next change of every member that has one and is not held back,
// as batch writes of at most batchWriteMax items sent by up to `workers` threads; a member's
// next change goes only in a later round, after its earlier one's result is known. A change
// to be retried holds back the rest of its member's changes (behind_retry).
void SyncStage::decideInBatches(const std::vector<std::vector<const ReceivedMessage*>>& groups,
                                std::map<const ReceivedMessage*, size_t>& slot,
                                std::vector<Decision>& decisions, int64_t startBy) {
  std::vector<size_t> cursor(groups.size(), 0);
  std::vector<bool> held(groups.size(), false), parked(groups.size(), false);
  for (;;) {
    std::vector<const ReceivedMessage*> round;
    std::vector<size_t> roundGroup;
    bool late = pastDeadline(startBy);
    for (size_t g = 0; g < groups.size(); ++g) {
      if (held[g] || cursor[g] >= groups[g].size()) continue;
      if (late) {
        decisions[slot[groups[g][cursor[g]++]]] = {Verdict::kRetry, Cause::kDeadline};
        held[g] = true;
        continue;
      }
      round.push_back(groups[g][cursor[g]++]);
      roundGroup.push_back(g);
    }
    if (round.empty()) break;
    size_t workers = static_cast<size_t>(std::max(1, opts_.workers));
    // Spread over the workers, but no request smaller than 50 changes: small rounds go whole.
    size_t per = std::max<size_t>((round.size() + workers - 1) / workers, 50);
    per = std::max<size_t>(std::min(per, opts_.batchWriteMax), 1);
    std::vector<std::pair<size_t, size_t>> chunks;  // [begin, end) of round
    for (size_t b = 0; b < round.size(); b += per)
      chunks.emplace_back(b, std::min(round.size(), b + per));
    // Each chunk writes only its own messages' decisions.
    forEachInParallel(chunks.size(), workers, [&](size_t c) {
      std::vector<const ReceivedMessage*> part(
          round.begin() + static_cast<ptrdiff_t>(chunks[c].first),
          round.begin() + static_cast<ptrdiff_t>(chunks[c].second));
      auto got = applyBatch(part);
      for (size_t k = 0; k < part.size(); ++k) decisions[slot.at(part[k])] = got[k];
    });
    for (size_t k = 0; k < round.size(); ++k) {
      Verdict v = decisions[slot[round[k]]].verdict;
      if (v == Verdict::kRetry) held[roundGroup[k]] = true;
      if (v == Verdict::kDeadLetter && parking_) held[roundGroup[k]] = parked[roundGroup[k]] = true;
    }
  }
  // What a held member had left waits behind its retried change (or the deadline), or, behind
  // a dead letter that parks its member, is held with the member.
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t i = cursor[g]; i < groups[g].size(); ++i)
      decisions[slot[groups[g][i]]] = parked[g] ? Decision{Verdict::kHold, Cause::kParked}
                                                : Decision{Verdict::kRetry, Cause::kBehindRetry};
  }
}

Result<SyncReport> SyncStage::process(const std::vector<ReceivedMessage>& batch) {
  auto started = clock_.monotonicNow();
  SyncReport report;
  if (batch.empty()) return report;
  counters().in.Increment(static_cast<double>(batch.size()));
  int64_t startBy = opts_.deadlineMs;
  if (opts_.startWithinMs > 0) {
    int64_t bound = clock_.nowMs() + opts_.startWithinMs;
    startBy = startBy > 0 ? std::min(startBy, bound) : bound;
  }

  if (parking_ && clock_.nowMs() - drain_->lastMs.load() >= 1000) {
    // A failing drain must not hold up this batch's members: it is tried again later.
    if (auto drained = drainReleased(); drained.isOk()) {
      report.unparked += drained->unparked;
    } else {
      log::warn("draining released members failed, will retry",
                {kStage, {}, {}, {}, "retry", drained.status().toString()});
    }
  }
  // Changes of parked members are held, not applied.
  std::vector<bool> wasHeld(batch.size(), false);
  if (parking_) {
    auto h = holdParked(batch);
    if (!h.isOk()) return h.status();
    wasHeld = std::move(h).value();
  }

  // Groups in first-seen order; each group's messages in queue order.
  std::vector<std::vector<const ReceivedMessage*>> groups;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < batch.size(); ++i) {
    const ReceivedMessage& m = batch[i];
    if (wasHeld[i]) continue;
    auto [it, fresh] = index.emplace(m.groupId, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(&m);
  }

  std::vector<Decision> decisions(batch.size());
  std::map<const ReceivedMessage*, size_t> slot;
  for (size_t i = 0; i < batch.size(); ++i) slot[&batch[i]] = i;
  std::vector<std::string> done;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!wasHeld[i]) continue;
    decisions[i] = {Verdict::kHold, Cause::kParked};
    done.push_back(batch[i].receiptHandle);  // held durably already
    ++report.held;
  }

  if (opts_.batchWriteMax > 0) {
    decideInBatches(groups, slot, decisions, startBy);
  } else {
    // Members at once, each member's changes one after another; each worker writes only its
    // own member's decisions.
    forEachInParallel(groups.size(), static_cast<size_t>(std::max(1, opts_.workers)),
                      [&](size_t g) {
                        bool blocked = false, parkedHere = false;
                        for (const ReceivedMessage* m : groups[g]) {
                          Decision& d = decisions[slot.at(m)];
                          if (blocked) {  // keep per-member order
                            d = parkedHere ? Decision{Verdict::kHold, Cause::kParked}
                                           : Decision{Verdict::kRetry, Cause::kBehindRetry};
                            continue;
                          }
                          if (pastDeadline(startBy)) {
                            d = {Verdict::kRetry, Cause::kDeadline};
                            blocked = true;
                            continue;
                          }
                          d = apply(*m);
                          if (d.verdict == Verdict::kRetry) blocked = true;
                          if (d.verdict == Verdict::kDeadLetter && parking_)
                            blocked = parkedHere = true;
                        }
                      });
  }

  std::vector<OutgoingMessage> dead;
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>>
      toPark;  // member, id, why
  std::map<std::string, std::vector<const ReceivedMessage*>> toHold;
  for (size_t i = 0; i < batch.size(); ++i) {
    const ReceivedMessage& m = batch[i];
    Decision& d = decisions[i];
    if (wasHeld[i]) continue;
    if (d.verdict == Verdict::kRetry && apiUnavailable(d)) report.apiUnavailable = true;
    if (d.verdict == Verdict::kRetry && spendsAnAttempt(d) &&
        m.receiveCount >= opts_.backoff.maxAttempts) {
      d.verdict = Verdict::kDeadLetter;
      d.exhausted = true;
    }
    const std::string reason = reasonCode(d);
    switch (d.verdict) {
      case Verdict::kDone:
        ++report.applied;
        done.push_back(m.receiptHandle);
        log::debug("change applied", {kStage, m.dedupId, m.groupId, {}, "applied", reason});
        break;
      case Verdict::kStale:
        ++report.stale;
        done.push_back(m.receiptHandle);
        log::info("stale change acknowledged", {kStage, m.dedupId, m.groupId, {}, "stale", {}});
        break;
      case Verdict::kDeadLetter: {
        ++report.deadLettered;
        OutgoingMessage o;
        o.groupId = m.groupId;
        o.dedupId = m.dedupId + ":dlq:" + m.messageId;
        o.body = m.body;
        o.attributes = m.attributes;
        o.attributes["reason"] = reason;
        o.attributes["stage"] = kStage;
        o.attributes["receiveCount"] = std::to_string(m.receiveCount);
        dead.push_back(std::move(o));
        done.push_back(m.receiptHandle);
        log::warn("change dead-lettered",
                  {kStage, m.dedupId, m.groupId, {}, "dead_lettered", reason});
        if (parking_) toPark.push_back({m.groupId, {m.dedupId, reason}});
        break;
      }
      case Verdict::kHold: toHold[m.groupId].push_back(&m); break;
      case Verdict::kRetry: {
        ++report.retried;
        int64_t delay = 0;
        if (d.cause != Cause::kBehindRetry && d.cause != Cause::kDeadline) {
          std::lock_guard lock(rngMu_);
          delay = fullJitterDelayMs(opts_.backoff, m.receiveCount, rng_);
          log::warn("change will be retried", {kStage, m.dedupId, m.groupId, {}, "retry", reason});
        }
        // Messages behind a retried one become visible at once but stay blocked behind it.
        (void)changes_.changeVisibility(m.receiptHandle, delay);
        break;
      }
    }
  }
  // Dead letters first: a message leaves the queue only once its DLQ copy is durable. Then its
  // member is parked, and what the batch had behind it held; a crash in between brings those
  // messages back, and the next batch finds the member parked and holds them.
  if (!dead.empty()) MF_RETURN_IF_ERROR(dlq_.send(dead));
  for (const auto& [member, why] : toPark) {
    MF_RETURN_IF_ERROR(parking_->park(member, why.first, why.second, clock_.nowMs()));
    log::warn("member parked", {kStage, why.first, member, {}, "parked", why.second});
  }
  for (const auto& [member, ms] : toHold) {
    std::vector<ParkedChange> changes;
    for (const ReceivedMessage* m : ms) changes.push_back(parkedChange(*m));
    MF_RETURN_IF_ERROR(parking_->hold(member, changes, clock_.nowMs()));
    for (const ReceivedMessage* m : ms) {
      done.push_back(m->receiptHandle);
      log::info("change held", {kStage, m->dedupId, member, {}, "held", "parked"});
    }
    report.held += ms.size();
  }
  if (!done.empty()) MF_RETURN_IF_ERROR(changes_.remove(done));

  auto& c = counters();
  c.applied.Increment(static_cast<double>(report.applied));
  c.stale.Increment(static_cast<double>(report.stale));
  c.dlq.Increment(static_cast<double>(report.deadLettered));
  c.retried.Increment(static_cast<double>(report.retried));
  c.batch.Observe(std::chrono::duration<double>(clock_.monotonicNow() - started).count());
  return report;
}

// Receiving more changes while the API is down would only use up their receives: wait for its
// readiness (which includes its database) instead, probing with backoff.
bool SyncStage::waitForApi(std::stop_token stop) {
  HttpRequest probe;
  probe.url = opts_.apiBaseUrl + "/readyz";
  probe.timeoutMs = opts_.requestTimeoutMs;
  // No attempt limit (an outage is waited out), and a probe at least every 512 base delays
  // however small the configured cap is not.
  BackoffPolicy policy = withoutAttemptLimit(opts_.backoff);
  policy.capMs = std::min(policy.capMs, policy.baseMs << 9);
  Retry retry(policy, clock_, stop, std::nullopt, opts_.jitterSeed);
  bool logged = false;
  while (!stop.stop_requested()) {
    // Ready means the API and its database answer, and a token can be had (the token endpoint
    // can be down on its own). The token goes along in case readiness is protected.
    std::string tokenProblem;
    HttpRequest sent = probe;
    if (auto t = tokens_.token(false); t.isOk()) {
      sent.headers.emplace_back("Authorization", "Bearer " + *t);
    } else {
      tokenProblem = t.status().message();
    }
    HttpResult r = http_.send(sent);
    if (r.ok() && r.response.status == 200 && tokenProblem.empty()) {
      if (logged)
        log::info("member API ready again, sync resumes", {kStage, {}, {}, {}, "resumed", {}});
      return logged;
    }
    if (!logged) {
      log::warn("member API unavailable, sync paused until it is ready",
                {kStage,
                 {},
                 {},
                 {},
                 "paused",
                 !r.ok()                    ? "api_unreachable"
                 : r.response.status != 200 ? "readyz_" + std::to_string(r.response.status)
                                            : tokenProblem});
      logged = true;
    }
    if (!retry.backoff()) break;
  }
  return logged;
}

void SyncStage::run(std::stop_token stop) {
  log::info("stage started", {kStage});
  Retry retry(withoutAttemptLimit(opts_.backoff), clock_, stop, std::nullopt, opts_.jitterSeed);
  while (!stop.stop_requested()) {
    if (parking_ && clock_.nowMs() - drain_->lastMs.load() >= 1000) {
      auto drained = drainReleased();
      if (drained.isOk() && drained->apiUnavailable) (void)waitForApi(stop);
      if (!drained.isOk())
        log::warn("parking store failed, will retry",
                  {kStage, {}, {}, {}, "retry", drained.status().toString()});
    }
    auto batch = changes_.receive(opts_.maxBatch, opts_.visibilityMs, opts_.waitMs);
    Status s = batch.status();
    if (s.isOk()) {
      auto report = process(*batch);
      s = report.status();
      if (s.isOk() && report->apiUnavailable) (void)waitForApi(stop);
    }
    if (s.isOk()) {
      retry.reset();
      continue;
    }
    log::warn("queue failed, will retry", {kStage, {}, {}, {}, "retry", s.toString()});
    if (!retry.backoff()) break;
  }
  log::info("stage stopped", {kStage});
}

}  // namespace memberflow
