#include "stages/ingest.h"

#include <exception>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "common/crypto.h"
#include "common/gzip.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/time.h"
#include "domain/member.h"
#include "domain/transform.h"

namespace memberflow {
namespace {

constexpr const char* kStage = "ingest";

bool isUtf8(std::string_view s) { return rules::utf8Length(s).has_value(); }

json::value rawBytes(const std::optional<std::string>& b, json::object& line, const char* encKey) {
  if (!b) return nullptr;
  if (isUtf8(*b)) return json::string(*b);
  line[encKey] = "base64";
  return json::string(crypto::base64Encode(*b));
}

struct Counters {
  prometheus::Counter& in = Metrics::instance().records(kStage, "in");
  prometheus::Counter& enqueued = Metrics::instance().records(kStage, "enqueued");
  prometheus::Counter& rejected = Metrics::instance().records(kStage, "rejected");
  prometheus::Counter& skipped = Metrics::instance().records(kStage, "skipped");
  prometheus::Counter& duplicate = Metrics::instance().records(kStage, "duplicate");
  prometheus::Counter& retried = Metrics::instance().records(kStage, "retried");
  prometheus::Histogram& batch = Metrics::instance().batchSeconds(kStage);
};
Counters& counters() {
  static Counters c;
  return c;
}

}  // namespace

std::string rawArchiveKey(const std::string& topic, int32_t partition, int64_t firstOffset,
                          int64_t lastOffset, int64_t firstTimestampMs) {
  char offsets[64];
  std::snprintf(offsets, sizeof offsets, "%020lld-%020lld", static_cast<long long>(firstOffset),
                static_cast<long long>(lastOffset));
  return "raw/" + topic + "/dt=" + utcDate(firstTimestampMs) + "/p=" + std::to_string(partition) +
         "/" + offsets + ".ndjson.gz";
}

std::string rawArchiveLine(const SourceRecord& r) {
  json::object line;
  line["partition"] = r.partition;
  line["offset"] = r.offset;
  line["timestamp"] = r.timestampMs;
  json::object headers;
  for (const auto& [k, v] : r.headers) {
    headers[k] = isUtf8(v) ? json::value(json::string(v)) : json::value(crypto::base64Encode(v));
  }
  line["headers"] = std::move(headers);
  line["key"] = rawBytes(r.key, line, "keyEncoding");
  line["value"] = rawBytes(r.value, line, "valueEncoding");
  return json::serialize(line);
}

std::string redactedArchiveLine(int32_t partition, int64_t offset, const std::string& messageId,
                                int64_t erasedAtMs) {
  return json::serialize(json::object{{"partition", partition},
                                      {"offset", offset},
                                      {"messageId", messageId},
                                      {"redacted", "erased"},
                                      {"erasedAt", isoMillis(erasedAtMs)}});
}

bool isRedacted(const json::object& line) { return line.contains("redacted"); }

std::optional<SourceRecord> recordFromArchiveLine(const json::object& ro,
                                                  const std::string& topic) {
  if (isRedacted(ro)) return std::nullopt;
  SourceRecord r;
  r.topic = topic;
  auto partition = intField(ro, "partition");
  auto offset = intField(ro, "offset");
  if (!partition || !offset) return std::nullopt;
  r.partition = static_cast<int32_t>(*partition);
  r.offset = *offset;
  r.timestampMs = intField(ro, "timestamp").value_or(0);
  auto bytes = [&](const char* name, const char* enc) -> std::optional<std::string> {
    auto s = stringField(ro, name);
    if (!s) return std::nullopt;
    if (stringField(ro, enc) == std::optional<std::string>("base64"))
      return crypto::base64Decode(*s);
    return s;
  };
  r.key = bytes("key", "keyEncoding");
  r.value = bytes("value", "valueEncoding");
  if (const json::value* h = field(ro, "headers"); h && h->is_object()) {
    for (const auto& kv : h->get_object()) {
      if (kv.value().is_string()) r.headers.emplace_back(kv.key(), kv.value().get_string());
    }
  }
  return r;
}

Result<IngestStage::Prepared> IngestStage::prepare(const std::vector<SourceRecord>& batch,
                                                   const std::vector<Lineage>* archived) const {
  Prepared out;
  auto started = clock_.monotonicNow();
  out.report.records = batch.size();
  if (batch.empty()) return out;
  counters().in.Increment(static_cast<double>(batch.size()));
  int64_t now = clock_.nowMs();
  int64_t today = clock_.todayDays();
  out.now = now;

  // 1. Archive, one object per partition run. Lines are numbered from 1 within an object.
  std::vector<Lineage> lineage(batch.size());
  std::vector<std::string> lines(batch.size());
  std::vector<ObjectPut> objects;
  PutOptions po;
  std::vector<Status> put;
  std::exception_ptr putThrown;
  // The objects are put while step 2 decodes the records: the put waits on I/O (the directory
  // store's fsyncs, S3's round trip), decoding is CPU, and neither needs the other (lineage is
  // known before the put). Nothing is claimed or enqueued before both are done: finish() runs
  // on what prepare() returns. Declared after what it uses, so it is joined before they go.
  std::jthread archiving;
  if (archived) {
    lineage = *archived;
    for (size_t i = 0; i < batch.size(); ++i) {
      lines[i] = rawArchiveLine(batch[i]);
      int64_t& next = out.report.nextOffsets[batch[i].partition];
      next = std::max(next, batch[i].offset + 1);
    }
  } else {
    std::map<int32_t, std::vector<size_t>> byPartition;
    for (size_t i = 0; i < batch.size(); ++i) {
      byPartition[batch[i].partition].push_back(i);
      lines[i] = rawArchiveLine(batch[i]);
    }
    objects.reserve(byPartition.size());
    for (const auto& [p, idx] : byPartition) {
      const SourceRecord& first = batch[idx.front()];
      std::string key =
          rawArchiveKey(first.topic, p, first.offset, batch[idx.back()].offset, first.timestampMs);
      std::string ndjson;
      for (size_t n = 0; n < idx.size(); ++n) {
        ndjson += lines[idx[n]];
        ndjson.push_back('\n');
        Lineage& l = lineage[idx[n]];
        l.topic = batch[idx[n]].topic;
        l.partition = p;
        l.offset = batch[idx[n]].offset;
        l.archiveKey = key;
        l.archiveLine = static_cast<int64_t>(n + 1);
      }
      auto gz = gzipCompress(ndjson, opts_.archiveGzipLevel);
      if (!gz.isOk()) return gz.status();
      objects.push_back({std::move(key), std::move(gz).value()});
      out.report.nextOffsets[p] = batch[idx.back()].offset + 1;
    }
    // One object per partition, put together (a directory tree syncs them at once).
    po.contentType = "application/x-ndjson";
    po.contentEncoding = "gzip";
    po.kmsKeyId = opts_.kmsKeyId;
    archiving = std::jthread([&] {
      try {
        put = store_.putAll(objects, po);
      } catch (...) {
        putThrown = std::current_exception();  // rethrown below, on prepare()'s thread
      }
    });
  }

  // 2. Decode (the message id is known even for undecodable records), validate and transform
  // every record; which of them go out is decided by the ledger in finish().
  out.items.resize(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    Item& it = out.items[i];
    const Lineage& l = lineage[i];
    DecodedChange d = decodeChange(batch[i], opts_.decode);
    it.outcome = {d.messageId, MessageOutcome::kEnqueued, "", l.archiveKey, l.archiveLine};
    it.memberId = d.memberId;
    if (d.status.isOk() && d.op == ChangeOp::kTombstone) {
      it.outcome.outcome = MessageOutcome::kSkipped;
      it.outcome.reason = "tombstone";
      continue;
    }
    Result<ChangeCommand> cmd =
        d.status.isOk() ? toCommand(d, l, now, today) : Result<ChangeCommand>(d.status);
    if (!cmd.isOk()) {
      std::string code = reasonCode(cmd.status());
      json::object body{{"reason", code},
                        {"message", cmd.status().message()},
                        {"messageId", d.messageId},
                        {"memberId", d.memberId},
                        {"lineage", lineageJson(l)},
                        {"record", json::parse(lines[i])}};
      it.outcome.outcome = MessageOutcome::kRejected;
      it.outcome.reason = code;
      it.message.groupId = d.memberId.empty() ? "unknown" : d.memberId;
      it.message.dedupId = d.messageId;
      it.message.body = json::serialize(body);
      it.message.attributes = {{"reason", code},
                               {"stage", kStage},
                               {"messageId", d.messageId},
                               {"topic", l.topic},
                               {"partition", std::to_string(l.partition)},
                               {"offset", std::to_string(l.offset)}};
      continue;
    }
    it.message.groupId = cmd->memberId;
    it.message.dedupId = cmd->messageId;
    it.message.body = serializeCommand(*cmd);
  }
  if (archiving.joinable()) archiving.join();
  if (putThrown) std::rethrow_exception(putThrown);
  for (Status& s : put) MF_RETURN_IF_ERROR(s);
  out.prepareTime = clock_.monotonicNow() - started;
  return out;
}

Result<IngestReport> IngestStage::finish(Prepared batch) {
  auto started = clock_.monotonicNow();
  IngestReport report = std::move(batch.report);
  if (batch.items.empty()) return report;
  int64_t now = batch.now;

  // 3. Claim, then sort into commands, rejects and skips: a message the ledger has done, or
  // one seen earlier in this batch, is a duplicate.
  std::vector<std::string> ids;
  ids.reserve(batch.items.size());
  for (const auto& it : batch.items) ids.push_back(it.outcome.messageId);
  auto claims = ledger_.claim(ids, now);
  if (!claims.isOk()) return claims.status();
  std::vector<OutgoingMessage> commands, rejects;
  std::vector<LedgerOutcome> outcomes;
  std::unordered_set<std::string_view> seen;
  for (size_t i = 0; i < batch.items.size(); ++i) {
    Item& it = batch.items[i];
    const std::string& id = it.outcome.messageId;
    if ((*claims)[i] == ClaimState::kDone || !seen.insert(id).second) {
      ++report.duplicates;
      log::debug("duplicate message", {kStage, id, it.memberId, {}, "duplicate", {}});
      continue;
    }
    if (it.outcome.outcome == MessageOutcome::kSkipped) {
      ++report.skipped;
    } else if (it.outcome.outcome == MessageOutcome::kRejected) {
      ++report.rejected;
      log::warn("record rejected", {kStage, id, it.memberId, {}, "rejected", it.outcome.reason});
      rejects.push_back(std::move(it.message));
    } else {
      ++report.enqueued;
      commands.push_back(std::move(it.message));
    }
    outcomes.push_back(it.outcome);
  }

  // 4. Enqueue, dead-letter, then mark the ledger done. A failure anywhere leaves claims
  // pending, and the redelivered batch processes them again (dedup ids keep that safe).
  if (!commands.empty()) MF_RETURN_IF_ERROR(changes_.send(commands));
  if (!rejects.empty()) MF_RETURN_IF_ERROR(dlq_.send(rejects));
  if (!outcomes.empty()) MF_RETURN_IF_ERROR(ledger_.complete(outcomes, now));

  auto& c = counters();
  c.enqueued.Increment(static_cast<double>(report.enqueued));
  c.rejected.Increment(static_cast<double>(report.rejected));
  c.skipped.Increment(static_cast<double>(report.skipped));
  c.duplicate.Increment(static_cast<double>(report.duplicates));
  // The batch's own work, prepare's and finish's, without the wait between them.
  c.batch.Observe(
      std::chrono::duration<double>(batch.prepareTime + clock_.monotonicNow() - started).count());
  return report;
}

Result<IngestReport> IngestStage::process(const std::vector<SourceRecord>& batch,
                                          const std::vector<Lineage>* archived) {
  auto prepared = prepare(batch, archived);
  if (!prepared.isOk()) return prepared.status();
  return finish(std::move(prepared).value());
}

void IngestStage::run(std::stop_token stop) {
  Retry retry(withoutAttemptLimit(opts_.backoff), clock_, stop, std::nullopt, opts_.jitterSeed);
  log::info("stage started", {kStage});
  // Two batches in flight: while this thread finishes batch N (claim, enqueue, complete,
  // commit: the stores' work), a second thread prepares batch N+1 (archive, decode, transform:
  // CPU and the archive's write). Each batch still goes archive -> ledger -> queue -> commit in
  // that order, and offsets are committed batch by batch, so a crash anywhere leaves what a
  // crash between two steps of one batch leaves: records re-polled from the committed offset
  // and archived again (a dropped batch can leave a raw object whose offsets overlap the next
  // one's: erase lists every object, reconcile and replay go by the ledger), deduplicated by the
  // ledger and the queue.
  std::optional<Prepared> ready;  // prepared, not finished
  uint64_t readyRevocations = 0;  // source_.revocations() when `ready` was polled
  while (!stop.stop_requested()) {
    // With a batch ready, poll without waiting: a quiet source must not hold it back.
    auto batch =
        source_.poll(opts_.maxBatch, ready ? std::chrono::milliseconds(0) : opts_.pollWait);
    Status s = batch.status();
    uint64_t revocations = source_.revocations();
    if (s.isOk() && ready && revocations != readyRevocations) {
      // A rebalance inside this poll took partitions away: the ready batch may hold another
      // consumer's records now. It is left to their owner, and this poll's batch goes with it
      // (after the rewind the source delivers from the committed offsets).
      ready.reset();
      log::info("partitions revoked: the batch polled before goes to their owner",
                {kStage, {}, {}, {}, "rebalanced", {}});
      if (Status r = source_.rewindToCommitted(); !r.isOk()) s = r;
      if (s.isOk()) continue;
    }
    std::optional<Result<Prepared>> next;
    std::exception_ptr thrown;  // an exception of prepare(), rethrown here as before the split
    std::jthread preparing;     // joined below, or on leaving the scope whatever happens
    if (s.isOk() && !batch->empty()) {
      preparing = std::jthread([&] {
        try {
          next.emplace(prepare(*batch, nullptr));
        } catch (...) {
          thrown = std::current_exception();
        }
      });
    }
    if (s.isOk() && ready) {
      auto report = finish(std::move(*ready));
      ready.reset();
      s = report.status();
      if (s.isOk()) s = source_.commit(report->nextOffsets);
    }
    if (preparing.joinable()) preparing.join();
    if (thrown) std::rethrow_exception(thrown);  // the supervisor reports the stage failed
    if (s.isOk() && next) {
      s = next->status();
      if (s.isOk()) {
        ready.emplace(std::move(*next).value());
        readyRevocations = revocations;
      }
    }
    if (s.isOk()) {
      retry.reset();
      continue;
    }
    // Whatever was prepared is dropped: the rewind polls it again.
    ready.reset();
    counters().retried.Increment();
    log::warn("batch failed, will retry", {kStage, {}, {}, {}, "retry", s.toString()});
    (void)source_.rewindToCommitted();
    if (!retry.backoff()) break;
  }
  // Stopping: a prepared batch is finished and committed rather than polled again later.
  if (ready) {
    auto report = finish(std::move(*ready));
    Status s = report.isOk() ? source_.commit(report->nextOffsets) : report.status();
    if (!s.isOk()) {
      log::warn("last batch not committed at stop, it is polled again at the next start",
                {kStage, {}, {}, {}, "retry", s.toString()});
    }
  }
  log::info("stage stopped", {kStage});
}

Status IngestStage::redrive(const std::string& dlqBody, bool dryRun) {
  auto parsed = parseJson(dlqBody);
  if (!parsed.isOk() || !parsed->is_object()) {
    return Status::invalidArgument("DLQ message is not an ingest rejection");
  }
  const json::object& o = parsed->get_object();
  const json::value* rec = field(o, "record");
  const json::value* lin = field(o, "lineage");
  if (rec == nullptr || !rec->is_object() || lin == nullptr || !lin->is_object()) {
    return Status::invalidArgument("DLQ message lacks the record or its lineage");
  }
  Lineage l;
  const json::object& lo = lin->get_object();
  l.topic = stringField(lo, "topic").value_or("");
  l.partition = static_cast<int32_t>(intField(lo, "partition").value_or(0));
  l.offset = intField(lo, "offset").value_or(0);
  l.archiveKey = stringField(lo, "archiveKey").value_or("");
  l.archiveLine = intField(lo, "archiveLine").value_or(0);
  auto rec2 = recordFromArchiveLine(rec->get_object(), l.topic);
  if (!rec2) return Status::invalidArgument("DLQ message holds a malformed record");
  const SourceRecord& r = *rec2;
  DecodedChange d = decodeChange(r, opts_.decode);
  auto cmd = d.status.isOk() && d.op != ChangeOp::kTombstone
                 ? toCommand(d, l, clock_.nowMs(), clock_.todayDays())
                 : Result<ChangeCommand>(d.status.isOk() ? rejection("tombstone", "nothing to do")
                                                         : d.status);
  if (!cmd.isOk()) {
    return Status::failedPrecondition("still invalid: " + reasonCode(cmd.status()));
  }
  if (dryRun) return Status::ok();
  OutgoingMessage m;
  m.groupId = cmd->memberId;
  // A fresh dedup id: the original may still be inside the queue's dedup window.
  m.dedupId = cmd->messageId + ":redrive";
  m.body = serializeCommand(*cmd);
  MF_RETURN_IF_ERROR(changes_.send({m}));
  log::info("rejected record redriven",
            {kStage, cmd->messageId, cmd->memberId, {}, "enqueued", {}});
  return Status::ok();
}

}  // namespace memberflow
