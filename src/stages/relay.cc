#include "stages/relay.h"

#include <thread>

#include "common/log.h"
#include "common/metrics.h"

namespace memberflow {
namespace {
constexpr const char* kStage = "relay";
}  // namespace

Result<size_t> RelayStage::process(OutboxClaim& claim) {
  const std::vector<OutboxEntry>& batch = claim.entries;
  if (batch.empty()) return size_t{0};
  auto started = std::chrono::steady_clock::now();
  std::vector<OutgoingMessage> messages;
  messages.reserve(batch.size());
  for (const auto& e : batch) messages.push_back({e.memberId, e.eventId, e.event, {{"eventId", e.eventId}}});
  MF_RETURN_IF_ERROR(topic_.publish(messages));
  MF_RETURN_IF_ERROR(claim.done());
  auto& m = Metrics::instance();
  m.records(kStage, "published").Increment(static_cast<double>(batch.size()));
  auto& lag = m.lagSeconds("published");
  int64_t now = clock_.nowMs();
  for (const auto& e : batch) lag.Observe(static_cast<double>(now - e.createdAtMs) / 1000.0);
  m.batchSeconds(kStage).Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return batch.size();
}

Result<size_t> RelayStage::pumpOnce() {
  auto claim = store_.claimOutbox(opts_.maxBatch);
  if (!claim.isOk()) return claim.status();
  return process(**claim);
}

void RelayStage::run(std::stop_token stop) {
  log::info("stage started", {kStage});
  int failures = 0;
  uint64_t published = 0;
  while (!stop.stop_requested()) {
    auto n = pumpOnce();
    if (n.isOk()) published += *n;
    int64_t pauseMs = 0;
    if (!n.isOk()) {
      ++failures;
      pauseMs = fullJitterDelayMs(opts_.backoff, failures, rng_);
      log::warn("publish failed, will retry", {kStage, {}, {}, {}, "retry", n.status().toString()});
    } else {
      failures = 0;
      if (*n > 0) continue;
      pauseMs = opts_.idleWait.count();
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(pauseMs);
    while (!stop.stop_requested() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(pauseMs, 20)));
    }
  }
  log::info("stage stopped", {kStage, {}, {}, {}, "published", std::to_string(published)});
}

}  // namespace memberflow
