// File: relay.h
// The relay stage (DESIGN.md §1): reads the member store's outbox in commit order and
// publishes each CloudEvent to the member-events topic (group = member id, dedup = event id),
// deleting outbox rows only after the topic accepted them. A crash between publish and
// delete publishes again; the topic's dedup id drops the repeat.
#pragma once

#include <chrono>
#include <random>
#include <stop_token>

#include "ports/clock.h"
#include "ports/member_store.h"
#include "ports/topic.h"
#include "common/backoff.h"

namespace memberflow {

struct RelayOptions {
  size_t maxBatch = 500;
  std::chrono::milliseconds idleWait{20};  // pause when the outbox is empty
  BackoffPolicy backoff{100, 5000, 0};
};

class RelayStage {
 public:
  RelayStage(MemberStore& store, Topic& topic, const Clock& clock, RelayOptions opts)
      : store_(store), topic_(topic), clock_(clock), opts_(opts) {}

  // Publishes the entries, then deletes them from the outbox. Returns how many.
  Result<size_t> process(OutboxClaim& claim);
  // Reads one batch from the outbox and processes it.
  Result<size_t> pumpOnce();
  void run(std::stop_token stop);

 private:
  MemberStore& store_;
  Topic& topic_;
  const Clock& clock_;
  RelayOptions opts_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace memberflow
