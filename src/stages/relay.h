// File: relay.h
// The relay stage (DESIGN.md §1): reads the member store's outbox in commit order and
// publishes each CloudEvent to the member-events topic (group = member id, dedup = event id),
// deleting outbox rows only after the topic accepted them. A crash between publish and
// delete publishes again; the topic's dedup id drops the repeat.
#pragma once

#include <chrono>
#include <stop_token>

#include "ports/clock.h"
#include "ports/member_store.h"
#include "ports/retry.h"
#include "ports/topic.h"

namespace memberflow {

struct RelayOptions {
  size_t maxBatch = 500;
  std::chrono::milliseconds idleWait{20};  // pause when the outbox is empty
  BackoffPolicy backoff{100, 5000, 0};     // after a failed batch; no attempt limit in run()
  uint64_t jitterSeed = 0;                 // 0: random (tests fix it)
};

class RelayStage {
 public:
  RelayStage(MemberStore& store, Topic& topic, const Clock& clock, RelayOptions opts)
      : store_(store), topic_(topic), clock_(clock), opts_(opts) {}

  // Publishes the entries, then deletes them from the outbox. Returns how many.
  Result<size_t> process(OutboxClaim& claim);
  // Reads one batch from the outbox and processes it.
  Result<size_t> pumpOnce();
  // Pumps until stop is requested: at once again after a full batch, after idleWait on the
  // clock when the outbox was empty, after a backoff (Retry) when a batch failed. A stop ends
  // either pause at once.
  void run(std::stop_token stop);

 private:
  MemberStore& store_;
  Topic& topic_;
  const Clock& clock_;
  RelayOptions opts_;
};

}  // namespace memberflow
