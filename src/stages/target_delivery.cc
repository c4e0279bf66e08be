#include "stages/target_delivery.h"

#include <set>

#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"

namespace memberflow {

TargetDelivery::Outcome TargetDelivery::deliver(const ReceivedMessage& m, std::string& reason) {
  auto v = parseJson(m.body);
  if (!v.isOk() || !v->is_object()) {
    reason = "malformed_delivery";
    return Outcome::kDead;
  }
  const json::object& d = v->get_object();
  std::string eventId = stringField(d, "eventId").value_or("");
  const json::value* payload = field(d, "payload");
  switch (target_.kind) {
    case TargetConfig::Kind::kWebhook: {
      HttpRequest req;
      req.method = "POST";
      req.url = target_.url;
      req.timeoutMs = target_.timeoutMs;
      req.body = payload ? json::serialize(*payload) : "null";
      req.headers = {{"Content-Type", "application/json"},
                     {"X-Memberflow-Event-Id", eventId},
                     {"X-Memberflow-Rule", stringField(d, "rule").value_or("")}};
      if (!target_.authSecret.empty()) {
        auto secret = secrets_.get(target_.authSecret);
        if (!secret.isOk()) {
          reason = "secret_unavailable";
          return Outcome::kRetry;
        }
        req.headers.emplace_back(target_.authHeader, *secret);
      }
      HttpResult r = http_.send(req);
      if (!r.ok()) {
        reason = r.transport == HttpResult::Transport::kNotSent ? "webhook_unreachable"
                                                                : "webhook_no_response";
        return Outcome::kRetry;
      }
      int st = r.response.status;
      if (st >= 200 && st < 300) return Outcome::kDone;
      reason = "webhook_status_" + std::to_string(st);
      if (st == 408 || st == 429 || st >= 500) return Outcome::kRetry;
      return Outcome::kDead;
    }
    case TargetConfig::Kind::kBus: {
      EventBus* bus = buses_(target_.bus);
      const json::value* entry = field(d, "entry");
      if (!bus || !entry || !entry->is_object()) {
        reason = bus ? "malformed_delivery" : "unknown_bus";
        return Outcome::kDead;
      }
      const json::object& eo = entry->get_object();
      BusEntry be{
          stringField(eo, "eventId").value_or(""),    stringField(eo, "source").value_or(""),
          stringField(eo, "detailType").value_or(""), stringField(eo, "detail").value_or(""),
          stringField(eo, "time").value_or(""),       stringField(eo, "groupId").value_or("")};
      auto res = bus->put({be});
      if (res.isOk() && (*res)[0].isOk()) return Outcome::kDone;
      reason = "bus_put_failed";
      return Outcome::kRetry;
    }
    case TargetConfig::Kind::kQueue: {
      Queue* q = queues_(target_.queue);
      if (!q) {
        reason = "unknown_queue";
        return Outcome::kDead;
      }
      Status s = q->send({{m.groupId,
                           m.dedupId,
                           payload ? json::serialize(*payload) : "null",
                           {{"eventId", eventId}}}});
      if (s.isOk()) return Outcome::kDone;
      reason = "queue_send_failed";
      return Outcome::kRetry;
    }
  }
  return Outcome::kDead;
}

Result<size_t> TargetDelivery::processOnce(int64_t waitMs) {
  auto batch = in_.receive(opts_.maxBatch, visibilityMs_, waitMs);
  if (!batch.isOk()) return batch.status();
  std::set<std::string> blocked;
  std::vector<std::string> done;
  std::vector<OutgoingMessage> dead;
  size_t delivered = 0;
  const std::string stage = "target:" + target_.name;
  for (const auto& m : *batch) {
    if (blocked.count(m.groupId)) {
      (void)in_.changeVisibility(m.receiptHandle, 0);  // stays behind the retried one
      continue;
    }
    std::string reason;
    Outcome o = deliver(m, reason);
    if (o == Outcome::kRetry && m.receiveCount >= target_.maxAttempts) {
      o = Outcome::kDead;
      reason = "attempts_exhausted:" + reason;
    }
    switch (o) {
      case Outcome::kDone:
        ++delivered;
        done.push_back(m.receiptHandle);
        break;
      case Outcome::kDead: {
        auto attrs = m.attributes;
        attrs["reason"] = reason;
        attrs["target"] = target_.name;
        dead.push_back({m.groupId, m.dedupId + ":dlq:" + m.messageId, m.body, attrs});
        done.push_back(m.receiptHandle);
        log::warn("delivery dead-lettered",
                  {stage,
                   {},
                   m.groupId,
                   m.attributes.count("eventId") ? m.attributes.at("eventId") : "",
                   "dead_lettered",
                   reason});
        break;
      }
      case Outcome::kRetry:
        blocked.insert(m.groupId);
        (void)in_.changeVisibility(m.receiptHandle,
                                   fullJitterDelayMs(opts_.backoff, m.receiveCount, rng_));
        log::warn("delivery will be retried", {stage, {}, m.groupId, {}, "retry", reason});
        break;
    }
  }
  if (!dead.empty()) MF_RETURN_IF_ERROR(dlq_.send(dead));
  if (!done.empty()) MF_RETURN_IF_ERROR(in_.remove(done));
  auto& metrics = Metrics::instance();
  metrics.records(stage, "delivered").Increment(static_cast<double>(delivered));
  metrics.records(stage, "dead_lettered").Increment(static_cast<double>(dead.size()));
  return delivered;
}

void TargetDelivery::run(std::stop_token stop) {
  Retry retry(withoutAttemptLimit(opts_.backoff), clock_, stop, std::nullopt, opts_.jitterSeed);
  while (!stop.stop_requested()) {
    auto n = processOnce(opts_.waitMs);
    if (n.isOk()) {
      retry.reset();
      continue;
    }
    log::warn("delivery batch failed, will retry",
              {"target:" + target_.name, {}, {}, {}, "retry", n.status().toString()});
    if (!retry.backoff()) break;
  }
}

}  // namespace memberflow
