#include "stages/relay.h"

#include "common/log.h"
#include "common/metrics.h"

namespace memberflow {
namespace {
constexpr const char* kStage = "relay";
}  // namespace

Result<size_t> RelayStage::process(OutboxClaim& claim) {
  const std::vector<OutboxEntry>& batch = claim.entries;
  if (batch.empty()) return size_t{0};
  auto started = clock_.monotonicNow();
  std::vector<OutgoingMessage> messages;
  messages.reserve(batch.size());
  for (const auto& e : batch)
    messages.push_back({e.memberId, e.eventId, e.event, {{"eventId", e.eventId}}});
  MF_RETURN_IF_ERROR(topic_.publish(messages));
  MF_RETURN_IF_ERROR(claim.done());
  auto& m = Metrics::instance();
  m.records(kStage, "published").Increment(static_cast<double>(batch.size()));
  auto& lag = m.lagSeconds("published");
  int64_t now = clock_.nowMs();
  for (const auto& e : batch) lag.Observe(static_cast<double>(now - e.createdAtMs) / 1000.0);
  m.batchSeconds(kStage).Observe(
      std::chrono::duration<double>(clock_.monotonicNow() - started).count());
  return batch.size();
}

Result<size_t> RelayStage::pumpOnce() {
  auto claim = store_.claimOutbox(opts_.maxBatch);
  if (!claim.isOk()) return claim.status();
  return process(**claim);
}

void RelayStage::run(std::stop_token stop) {
  log::info("stage started", {kStage});
  Retry retry(withoutAttemptLimit(opts_.backoff), clock_, stop, std::nullopt, opts_.jitterSeed);
  uint64_t published = 0;
  while (!stop.stop_requested()) {
    auto n = pumpOnce();
    if (!n.isOk()) {
      log::warn("publish failed, will retry", {kStage, {}, {}, {}, "retry", n.status().toString()});
      if (!retry.backoff()) break;
      continue;
    }
    retry.reset();
    published += *n;
    if (*n > 0) continue;
    if (!clock_.sleepFor(opts_.idleWait, stop)) break;
  }
  log::info("stage stopped", {kStage, {}, {}, {}, "published", std::to_string(published)});
}

}  // namespace memberflow
