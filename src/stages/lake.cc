#include "stages/lake.h"

#include <map>
#include <set>

#include "common/gzip.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/time.h"

namespace memberflow {
namespace {
constexpr const char* kStage = "lake";
}  // namespace

std::string lakeObjectKey(const std::string& date, int hour, const std::string& writer,
                          int64_t firstSeq, int64_t lastSeq) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "hr=%02d/%s-%020lld-%020lld.ndjson.gz", hour, writer.c_str(),
                static_cast<long long>(firstSeq), static_cast<long long>(lastSeq));
  return "lake/member-events/dt=" + date + "/" + buf;
}

Status LakeStage::recover() {
  auto staged = journal_.staged();
  if (!staged.isOk()) return staged.status();
  PutOptions po{"application/x-ndjson", "gzip", opts_.kmsKeyId};
  for (const auto& obj : *staged) {
    MF_RETURN_IF_ERROR(store_.put(obj.key, obj.content, po));
    MF_RETURN_IF_ERROR(journal_.written(obj.key));
    log::info("staged lake object written after restart",
              {kStage, {}, {}, {}, "recovered", obj.key});
  }
  return Status::ok();
}

Result<size_t> LakeStage::flush(const std::vector<ReceivedMessage>& batch) {
  if (batch.empty()) return size_t{0};
  auto started = clock_.monotonicNow();
  if (unwritten_) {
    MF_RETURN_IF_ERROR(recover());
    unwritten_ = false;
  }
  struct Item {
    std::string id;
    std::string line;
  };
  std::map<std::pair<std::string, int>, std::vector<Item>> partitions;
  std::vector<OutgoingMessage> dead;
  std::vector<std::string> receipts;
  std::vector<Item> items;
  std::set<std::string> seen;
  for (const auto& m : batch) {
    receipts.push_back(m.receiptHandle);
    auto v = parseJson(m.body);
    const json::object* o = v.isOk() && v->is_object() ? &v->get_object() : nullptr;
    auto id = o ? stringField(*o, "id") : std::nullopt;
    auto time = o ? stringField(*o, "time") : std::nullopt;
    auto ms = time ? epochMsFromIso(*time) : std::nullopt;
    if (!id || !ms) {
      dead.push_back({m.groupId,
                      m.dedupId + ":lake-dlq:" + m.messageId,
                      m.body,
                      {{"reason", "not_a_member_event"}, {"stage", kStage}}});
      continue;
    }
    if (!seen.insert(*id).second) continue;  // redelivered within the batch
    items.push_back({*id, json::serialize(*v)});
    items.back().line.push_back('\n');
    (void)ms;
  }
  std::vector<std::string> ids;
  for (const auto& it : items) ids.push_back(it.id);
  auto placed = journal_.placed(ids);
  if (!placed.isOk()) return placed.status();
  size_t written = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if ((*placed)[i]) continue;  // in the lake already (a redelivery)
    auto o = json::parse(items[i].line).as_object();
    int64_t ms = *epochMsFromIso(o.at("time").as_string());
    partitions[{utcDate(ms), utcHour(ms)}].push_back(std::move(items[i]));
  }
  PutOptions po{"application/x-ndjson", "gzip", opts_.kmsKeyId};
  for (auto& [part, list] : partitions) {
    // Lines keep the order the queue delivered them in: per-member (FIFO group) order. (Queue
    // message ids are no order: SQS's are UUIDs.)
    std::string ndjson;
    std::vector<std::string> partIds;
    for (const auto& it : list) {
      ndjson += it.line;
      partIds.push_back(it.id);
    }
    // Lake sequence numbers follow staging order, so names sort the way events were placed
    // (queue sequence numbers would not: a redelivered old message can land in a later object).
    auto first = journal_.reserve(list.size());
    if (!first.isOk()) return first.status();
    auto gz = gzipCompress(ndjson);
    if (!gz.isOk()) return gz.status();
    StagedObject obj{lakeObjectKey(part.first, part.second, opts_.writer, *first,
                                   *first + static_cast<int64_t>(list.size()) - 1),
                     std::move(gz).value()};
    unwritten_ = true;
    MF_RETURN_IF_ERROR(journal_.stage(obj, partIds));
    MF_RETURN_IF_ERROR(store_.put(obj.key, obj.content, po));
    MF_RETURN_IF_ERROR(journal_.written(obj.key));
    unwritten_ = false;
    written += list.size();
  }
  if (!dead.empty()) MF_RETURN_IF_ERROR(dlq_.send(dead));
  MF_RETURN_IF_ERROR(lake_.remove(receipts));
  auto& m = Metrics::instance();
  m.records(kStage, "in").Increment(static_cast<double>(batch.size()));
  m.records(kStage, "written").Increment(static_cast<double>(written));
  m.records(kStage, "dead_lettered").Increment(static_cast<double>(dead.size()));
  m.batchSeconds(kStage).Observe(
      std::chrono::duration<double>(clock_.monotonicNow() - started).count());
  return written;
}

void LakeStage::run(std::stop_token stop) {
  log::info("stage started", {kStage});
  BackoffPolicy policy = withoutAttemptLimit(opts_.backoff);
  Retry writing(policy, clock_, stop, std::nullopt, opts_.jitterSeed);
  Retry receiving(policy, clock_, stop, std::nullopt, opts_.jitterSeed);
  while (!stop.stop_requested()) {
    Status s = recover();
    if (s.isOk()) break;
    log::warn("lake recovery failed, will retry", {kStage, {}, {}, {}, "retry", s.toString()});
    if (!writing.backoff()) break;
  }
  writing.reset();
  std::vector<ReceivedMessage> buffer;
  size_t bytes = 0;
  auto oldest = clock_.monotonicNow();
  while (!stop.stop_requested()) {
    auto got = lake_.receive(opts_.receiveBatch, opts_.visibilityMs, 100);
    if (!got.isOk()) {
      log::warn("lake receive failed, will retry",
                {kStage, {}, {}, {}, "retry", got.status().toString()});
      if (!receiving.backoff()) break;
      continue;
    }
    receiving.reset();
    if (buffer.empty() && !got->empty()) oldest = clock_.monotonicNow();
    for (auto& m : *got) {
      bytes += m.body.size();
      buffer.push_back(std::move(m));
    }
    bool due = !buffer.empty() && (buffer.size() >= opts_.maxEvents || bytes >= opts_.maxBytes ||
                                   clock_.monotonicNow() - oldest >= opts_.flushAfter);
    if (!due) continue;
    auto n = flush(buffer);
    buffer.clear();
    bytes = 0;
    if (n.isOk()) {
      writing.reset();
      continue;
    }
    // The messages stay in flight and come back after their visibility timeout.
    log::warn("lake flush failed, will retry",
              {kStage, {}, {}, {}, "retry", n.status().toString()});
    if (!writing.backoff()) break;
  }
  if (!buffer.empty()) (void)flush(buffer);  // finish in-flight work on shutdown
  log::info("stage stopped", {kStage});
}

}  // namespace memberflow
