#include "stages/sync.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>  // process()'s workers

#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "domain/change_command.h"

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
  prometheus::Histogram& lag = Metrics::instance().lagSeconds("applied");
};
Counters& counters() {
  static Counters c;
  return c;
}

// The `type` of a problem+json body, or empty.
std::string problemType(const std::string& body) {
  auto v = parseJson(body);
  if (!v.isOk() || !v->is_object()) return {};
  return stringField(v->get_object(), "type").value_or("");
}

// The API or its database is down: nothing wrong with the change itself. Such retries never
// exhaust a change's attempts (an outage must not fill the DLQ); the stage pauses instead.
}  // namespace

std::string SyncStage::reasonCode(const Decision& d) {
  std::string r;
  switch (d.cause) {
    case Cause::kNone: break;
    case Cause::kInvalidCommand: r = d.detail; break;
    case Cause::kGroupMismatch: r = "group_mismatch"; break;
    case Cause::kTokenUnavailable: r = "token_unavailable"; break;
    case Cause::kApiUnreachable: r = "api_unreachable"; break;
    case Cause::kApiNoResponse: r = "api_no_response"; break;
    case Cause::kApiStatus: r = "api_status_" + std::to_string(d.status); break;
    case Cause::kApiRejected: r = "api_rejected_" + std::to_string(d.status); break;
    case Cause::kStale: r = "stale"; break;
    case Cause::kNotFound: r = "not_found"; break;
    case Cause::kBehindRetry: r = "behind_retry"; break;
    case Cause::kDeadline: r = "deadline"; break;
  }
  return d.exhausted ? "attempts_exhausted:" + r : r;
}

// The API (or its token endpoint) is down or overloaded: sync pauses until it is ready.
bool SyncStage::apiUnavailable(const Decision& d) {
  switch (d.cause) {
    case Cause::kApiUnreachable:
    case Cause::kApiNoResponse:
    case Cause::kTokenUnavailable: return true;
    case Cause::kApiStatus: return d.status == 502 || d.status == 503 || d.status == 504;
    default: return false;
  }
}

// Whether a retry counts toward the change's attempt limit: not when it only waited behind an
// earlier change of its member, was not started before the deadline, found the API unavailable,
// or was throttled (429) — none of those says anything about the change.
bool SyncStage::spendsAnAttempt(const Decision& d) {
  return d.cause != Cause::kBehindRetry && d.cause != Cause::kDeadline &&
         !(d.cause == Cause::kApiStatus && d.status == 429) && !apiUnavailable(d);
}

SyncStage::Decision SyncStage::apply(const ReceivedMessage& m) {
  auto cmd = parseCommand(m.body, std::numeric_limits<int32_t>::max());
  if (!cmd.isOk())
    return {Verdict::kDeadLetter, Cause::kInvalidCommand, 0, memberflow::reasonCode(cmd.status())};
  if (cmd->memberId != m.groupId) return {Verdict::kDeadLetter, Cause::kGroupMismatch};

  HttpRequest req;
  bool isDelete = cmd->op == ChangeCommand::Op::kDelete;
  req.method = isDelete ? "DELETE" : "PUT";
  req.url = opts_.apiBaseUrl + "/member/" + cmd->memberId;
  req.timeoutMs = opts_.requestTimeoutMs;
  if (opts_.deadlineMs > 0) {
    req.timeoutMs = std::clamp<long>(static_cast<long>(opts_.deadlineMs - clock_.nowMs()), 1L,
                                     opts_.requestTimeoutMs);
  }
  if (!isDelete) {
    req.body = json::serialize(memberJson(*cmd->member));
    req.headers.emplace_back("Content-Type", "application/json");
  }
  req.headers.emplace_back("Idempotency-Key", cmd->messageId);
  req.headers.emplace_back("X-Source-Sequence", std::to_string(cmd->sourceSequence));
  req.headers.emplace_back("X-Lineage", json::serialize(lineageJson(cmd->lineage)));
  req.headers.emplace_back("X-Message-Id", cmd->messageId);

  std::string rejected;
  for (int authAttempt = 0; authAttempt < 2; ++authAttempt) {
    auto token = authAttempt == 0 ? tokens_.token(false) : tokens_.refresh(rejected);
    if (!token.isOk()) return {Verdict::kRetry, Cause::kTokenUnavailable};
    auto sent = req;
    sent.headers.emplace_back("Authorization", "Bearer " + *token);
    HttpResult r = http_.send(sent);
    if (!r.ok()) {
      return {Verdict::kRetry, r.transport == HttpResult::Transport::kNotSent
                                   ? Cause::kApiUnreachable
                                   : Cause::kApiNoResponse};
    }
    int st = r.response.status;
    if (st == 401 && authAttempt == 0) {  // refresh the token once
      rejected = *token;
      continue;
    }
    if (st >= 200 && st < 300) {
      if (cmd->sourceTsMs > 0) {
        counters().lag.Observe(static_cast<double>(clock_.nowMs() - cmd->sourceTsMs) / 1000.0);
      }
      return {Verdict::kDone, Cause::kNone};
    }
    std::string type = problemType(r.response.body);
    if (st == 409 && type.find("stale-source-sequence") != std::string::npos) {
      return {Verdict::kStale, Cause::kStale};
    }
    if (st == 404 && isDelete) return {Verdict::kDone, Cause::kNotFound};
    if (st == 401 || st == 403 || st == 408 || st == 429 || st >= 500) {
      return {Verdict::kRetry, Cause::kApiStatus, st};
    }
    return {Verdict::kDeadLetter, Cause::kApiRejected, st};
  }
  return {Verdict::kRetry, Cause::kApiStatus, 401};  // rejected after a refresh too
}

Result<SyncReport> SyncStage::process(const std::vector<ReceivedMessage>& batch) {
  auto started = clock_.monotonicNow();
  SyncReport report;
  if (batch.empty()) return report;
  counters().in.Increment(static_cast<double>(batch.size()));

  // Groups in first-seen order; each group's messages in queue order.
  std::vector<std::vector<const ReceivedMessage*>> groups;
  std::map<std::string, size_t> index;
  for (const auto& m : batch) {
    auto [it, fresh] = index.emplace(m.groupId, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(&m);
  }

  std::vector<Decision> decisions(batch.size());
  std::vector<size_t> position(batch.size());
  std::map<const ReceivedMessage*, size_t> slot;
  for (size_t i = 0; i < batch.size(); ++i) slot[&batch[i]] = i;

  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t g = next++; g < groups.size(); g = next++) {
      bool blocked = false;
      for (const ReceivedMessage* m : groups[g]) {
        Decision& d = decisions[slot[m]];
        if (blocked) {
          d = {Verdict::kRetry, Cause::kBehindRetry};  // keep per-member order
          continue;
        }
        if (opts_.deadlineMs > 0 && clock_.nowMs() >= opts_.deadlineMs) {
          d = {Verdict::kRetry, Cause::kDeadline};
          blocked = true;
          continue;
        }
        d = apply(*m);
        if (d.verdict == Verdict::kRetry) blocked = true;
      }
    }
  };
  size_t n = std::min<size_t>(static_cast<size_t>(std::max(1, opts_.workers)), groups.size());
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();

  std::vector<OutgoingMessage> dead;
  std::vector<std::string> done;
  for (size_t i = 0; i < batch.size(); ++i) {
    const ReceivedMessage& m = batch[i];
    Decision& d = decisions[i];
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
        break;
      }
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
  // Dead letters first: a message leaves the queue only once its DLQ copy is durable.
  if (!dead.empty()) MF_RETURN_IF_ERROR(dlq_.send(dead));
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
