#include "stages/target_delivery.h"

#include <map>

#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "stages/parallel.h"

namespace memberflow {

TargetDelivery::BatchContext TargetDelivery::batchContext() {
  BatchContext ctx;
  switch (target_.kind) {
    case TargetConfig::Kind::kWebhook:
      if (!target_.authSecret.empty()) {
        auto secret = secrets_.get(target_.authSecret);
        if (secret.isOk()) ctx.authValue = std::move(secret).value();
      } else {
        ctx.authValue = std::string();  // no auth header
      }
      break;
    case TargetConfig::Kind::kBus: ctx.bus = buses_(target_.bus); break;
    case TargetConfig::Kind::kQueue: ctx.queue = queues_(target_.queue); break;
  }
  return ctx;
}

TargetDelivery::Outcome TargetDelivery::deliver(const ReceivedMessage& m, const BatchContext& ctx,
                                                std::string& reason, DeliveryRecord& rec) {
  auto v = parseJson(m.body);
  if (!v.isOk() || !v->is_object()) {
    reason = "malformed_delivery";
    return Outcome::kDead;
  }
  const json::object& d = v->get_object();
  std::string eventId = stringField(d, "eventId").value_or("");
  rec.eventId = eventId;  // the CloudEvent's id, as the embedded bus wrote it
  rec.memberId = m.groupId;
  rec.rule = stringField(d, "rule").value_or("");
  const json::value* payload = field(d, "payload");
  switch (target_.kind) {
    case TargetConfig::Kind::kWebhook: {
      if (!ctx.authValue) {
        reason = "secret_unavailable";
        return Outcome::kRetry;
      }
      HttpRequest req;
      req.method = "POST";
      req.url = target_.url;
      req.timeoutMs = target_.timeoutMs;
      req.body = payload ? json::serialize(*payload) : "null";
      req.headers = {{"Content-Type", "application/json"},
                     {"X-Memberflow-Event-Id", eventId},
                     {"X-Memberflow-Rule", stringField(d, "rule").value_or("")}};
      if (!target_.authSecret.empty()) req.headers.emplace_back(target_.authHeader, *ctx.authValue);
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
      const json::value* entry = field(d, "entry");
      if (!ctx.bus || !entry || !entry->is_object()) {
        reason = ctx.bus ? "malformed_delivery" : "unknown_bus";
        return Outcome::kDead;
      }
      const json::object& eo = entry->get_object();
      BusEntry be{
          stringField(eo, "eventId").value_or(""),    stringField(eo, "source").value_or(""),
          stringField(eo, "detailType").value_or(""), stringField(eo, "detail").value_or(""),
          stringField(eo, "time").value_or(""),       stringField(eo, "groupId").value_or("")};
      auto res = ctx.bus->put({be});
      if (res.isOk() && (*res)[0].isOk()) return Outcome::kDone;
      reason = "bus_put_failed";
      return Outcome::kRetry;
    }
    case TargetConfig::Kind::kQueue: {
      if (!ctx.queue) {
        reason = "unknown_queue";
        return Outcome::kDead;
      }
      Status s = ctx.queue->send({{m.groupId,
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
  auto received = in_.receive(opts_.maxBatch, visibilityMs_, waitMs);
  if (!received.isOk()) return received.status();
  const std::vector<ReceivedMessage>& batch = *received;

  // The batch's members in first-seen order, each with its messages in queue order.
  std::vector<std::vector<size_t>> groups;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto [it, fresh] = index.emplace(batch[i].groupId, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(i);
  }

  // Members at once, each member's deliveries one after another: a retried one holds back the
  // rest of its member's (they stay kHeld). Each worker writes only its own member's slots.
  const BatchContext ctx = batch.empty() ? BatchContext{} : batchContext();
  std::vector<Outcome> outcomes(batch.size(), Outcome::kHeld);
  std::vector<std::string> reasons(batch.size());
  std::vector<DeliveryRecord> records(batch.size());
  auto deliverMember = [&](size_t g) {
    for (size_t i : groups[g]) {
      Outcome o = deliver(batch[i], ctx, reasons[i], records[i]);
      if (o == Outcome::kDone) records[i].deliveredAtMs = clock_.nowMs();
      if (o == Outcome::kRetry && batch[i].receiveCount >= target_.maxAttempts) {
        o = Outcome::kDead;
        reasons[i] = "attempts_exhausted:" + reasons[i];
      }
      outcomes[i] = o;
      if (o == Outcome::kRetry) break;
    }
  };
  forEachInParallel(groups.size(), static_cast<size_t>(std::max(1, opts_.concurrency)),
                    deliverMember);

  // Settle in queue order on this thread: the jitter, the logs, the batched DLQ send and remove.
  std::vector<std::string> done;
  std::vector<OutgoingMessage> dead;
  std::vector<DeliveryRecord> recorded;
  size_t delivered = 0;
  const std::string stage = "target:" + target_.name;
  for (size_t i = 0; i < batch.size(); ++i) {
    const ReceivedMessage& m = batch[i];
    const std::string& reason = reasons[i];
    switch (outcomes[i]) {
      case Outcome::kHeld:
        (void)in_.changeVisibility(m.receiptHandle, 0);  // stays behind the retried one
        break;
      case Outcome::kDone:
        ++delivered;
        done.push_back(m.receiptHandle);
        // Without an event id there is nothing to join on (not a delivery the bus wrote).
        if (deliveries_ && !records[i].eventId.empty()) {
          records[i].target = target_.name;
          recorded.push_back(std::move(records[i]));
        }
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
        (void)in_.changeVisibility(m.receiptHandle,
                                   fullJitterDelayMs(opts_.backoff, m.receiveCount, rng_));
        log::warn("delivery will be retried", {stage, {}, m.groupId, {}, "retry", reason});
        break;
    }
  }
  // The records and dead letters first: a delivery leaves the queue only once its record or
  // DLQ copy is durable. A crash in between delivers and records again (idempotent).
  if (!recorded.empty()) MF_RETURN_IF_ERROR(deliveries_->record(recorded));
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
