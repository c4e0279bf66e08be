// File: sync.h
// The sync stage (DESIGN.md §1): receives change commands from the changes queue and applies
// them through the Member API (PUT / DELETE with Idempotency-Key = message id and
// X-Source-Sequence), one member at a time in queue order, several members in parallel.
// Success and stale are deleted; transient failures come back after a jittered backoff; a
// 4xx that retrying cannot fix, a poison message or an exhausted one goes to the DLQ.
// With a ParkingStore, such a dead letter also parks its member (DESIGN.md §4 guarantee 6):
// the member's later changes are held in the store, in order, instead of applied, and once the
// member is released (its dead change redriven, or `park release`) sync applies its held
// changes, dead change first, and unparks it. Other members are never held back.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <utility>

#include "domain/change_command.h"
#include "ports/clock.h"
#include "ports/http_client.h"
#include "ports/parking.h"
#include "ports/queue.h"
#include "ports/retry.h"
#include "ports/token_provider.h"

namespace memberflow {

// What draining released members remembers between calls: when it last ran (process() drains
// at most once a second) and the failed attempts of held changes. A stage built per batch (the
// Lambda) shares one across its stages, so it drains once a second, not on every batch, and a
// held change that keeps failing reaches its attempt limit.
struct SyncDrainState {
  std::atomic<int64_t> lastMs{0};
  std::mutex mu;
  std::map<std::string, int> attempts;  // held change (member/seq) -> failed attempts
};

struct SyncOptions {
  std::string apiBaseUrl = "http://127.0.0.1:8080";
  size_t maxBatch = 200;
  int64_t visibilityMs = 30000;
  int64_t waitMs = 200;
  int workers = 8;  // members applied in parallel within a batch
  long requestTimeoutMs = 10000;
  // Changes per POST /members:batchWrite (up to 500); 0: one PUT or DELETE per change.
  size_t batchWriteMax = 0;
  // The wall-clock time (Clock::nowMs) by which process() must be done; 0: none. A Lambda
  // invocation has a deadline: no change is started after it and no request outlives it (its
  // timeout is cut to what is left). The changes not started are retried without spending an
  // attempt.
  int64_t deadlineMs = 0;
  // How long after process() starts a change may still be started; 0: no bound. With several
  // receive loops on one queue (`run`'s sync.consumers) this is the visibility timeout less a
  // request's timeout and a margin: a batch's FIFO hold on its members lasts the visibility
  // timeout, and a change started later could still be in flight when another loop receives
  // the member's changes again. Changes not started are retried without spending an attempt.
  int64_t startWithinMs = 0;
  BackoffPolicy backoff{200, 20000, 6};        // maxAttempts: deliveries before the DLQ
  std::shared_ptr<SyncDrainState> drainState;  // none: the stage's own
  uint64_t jitterSeed = 0;                     // 0: random (tests fix it)
};

struct SyncReport {
  size_t applied = 0, stale = 0, deadLettered = 0, retried = 0;
  size_t held = 0;              // changes of parked members set aside
  size_t unparked = 0;          // released members whose held changes are all done
  bool apiUnavailable = false;  // the API (or its database) was down for some change
};

class SyncStage {
 public:
  SyncStage(Queue& changes, Queue& dlq, HttpClient& http, TokenProvider& tokens, const Clock& clock,
            SyncOptions opts, ParkingStore* parking = nullptr)
      : parking_(parking),
        changes_(changes),
        dlq_(dlq),
        http_(http),
        tokens_(tokens),
        clock_(clock),
        opts_(std::move(opts)),
        rng_(opts_.jitterSeed != 0 ? opts_.jitterSeed : std::random_device{}()) {
    drain_ = opts_.drainState ? opts_.drainState : std::make_shared<SyncDrainState>();
  }

  // Applies one received batch; deletes what is done, dead-letters what cannot be done and
  // reschedules the rest. Unavailable: the queue itself failed (messages reappear after
  // their visibility timeout, nothing is lost). Safe to call from several threads at once
  // (`run`'s sync.consumers): what it shares is under rngMu_ or the drain state's lock, and
  // the ports it calls are thread-safe.
  Result<SyncReport> process(const std::vector<ReceivedMessage>& batch);

  // Applies the held changes of released members, in order (at most a page per member): done
  // ones leave the store, a change that fails on its own is dead-lettered and parks its member
  // again, a retry waits for the next call. Unparks a member with nothing left. Called by run()
  // and, at most once a second, by process().
  Result<SyncReport> drainReleased();

  // Waits until the API answers /readyz with 200, probing with backoff (Retry, on the clock);
  // true when it had to wait. A stop ends the wait at once.
  bool waitForApi(std::stop_token stop);
  // Receives and processes until stop is requested: backs off after a failed receive, and
  // pauses in waitForApi while the API is unavailable. An empty receive is no failure: the
  // queue's receive wait paces it.
  void run(std::stop_token stop);

 private:
  // kHold: set aside behind a dead letter of its member (the member is parked).
  enum class Verdict { kDone, kStale, kDeadLetter, kRetry, kHold };
  // Why a change got its verdict. Named (reasonCode in sync.cc) only where it leaves the stage:
  // the DLQ entry's reason attribute and the log line.
  enum class Cause {
    kNone,              // applied
    kInvalidCommand,    // the queue message is no change command (detail: its reason code)
    kGroupMismatch,     // the message's FIFO group is not its member
    kTokenUnavailable,  // no token from the issuer
    kApiUnreachable,    // the request was not sent (connect failed)
    kApiNoResponse,     // sent, no answer (timeout, reset)
    kApiStatus,         // a status worth retrying (401 twice, 403, 408, 429, 5xx)
    kApiRejected,       // a status that no retry changes (4xx)
    kStale,             // 409 stale-source-sequence: a later change is already applied
    kNotFound,          // a delete of a member that is not there: done
    kBehindRetry,       // waits behind an earlier change of its member that is retried
    kDeadline,          // not started: the batch's deadline (SyncOptions::deadlineMs) passed
    kParked,            // its member is parked: held
  };
  struct Decision {
    Decision() = default;
    Decision(Verdict v, Cause c, int st = 0, std::string why = {})
        : verdict(v), cause(c), status(st), detail(std::move(why)) {}
    Verdict verdict = Verdict::kRetry;
    Cause cause = Cause::kNone;
    int status = 0;          // the API's HTTP status, for kApiStatus and kApiRejected
    std::string detail;      // kInvalidCommand: the command parser's reason code
    bool exhausted = false;  // a retry turned dead letter: the attempt limit was reached
  };
  static std::string reasonCode(const Decision& d);
  static bool apiUnavailable(const Decision& d);
  static bool spendsAnAttempt(const Decision& d);
  // The message's change command, or the decision when it has none (dead letter).
  std::optional<Decision> prepare(const ReceivedMessage& m, ChangeCommand* cmd) const;
  // Sends with the bearer token (refreshed once on 401): kDone with the response in *out, or
  // the retry decision of a request that got no usable answer.
  Decision send(HttpRequest req, HttpResponse* out);
  // The decision for the API's answer to one change (its status and problem type).
  Decision classify(int status, const std::string& problemType, const ChangeCommand& cmd);
  long requestTimeout() const;
  // No change may start after startBy (Clock::nowMs; 0: none): the earlier of deadlineMs and
  // process()'s start + startWithinMs.
  bool pastDeadline(int64_t startBy) const;
  Decision apply(const ReceivedMessage& m);
  // One change per message (at most one per member), as one batch write.
  std::vector<Decision> applyBatch(const std::vector<const ReceivedMessage*>& ms);
  void decideInBatches(const std::vector<std::vector<const ReceivedMessage*>>& groups,
                       std::map<const ReceivedMessage*, size_t>& slot,
                       std::vector<Decision>& decisions, int64_t startBy);

  // Holds the messages of members that are parked; returns which of the batch it held.
  Result<std::vector<bool>> holdParked(const std::vector<ReceivedMessage>& batch);
  static ParkedChange parkedChange(const ReceivedMessage& m);
  ParkingStore* parking_;
  std::shared_ptr<SyncDrainState> drain_;
  Queue& changes_;
  Queue& dlq_;
  HttpClient& http_;
  TokenProvider& tokens_;
  const Clock& clock_;
  SyncOptions opts_;
  std::mutex rngMu_;
  std::mt19937_64 rng_;  // the per-change visibility delays of process()
};

}  // namespace memberflow
