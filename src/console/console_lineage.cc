// The console's lineage lookup and raw archive lines (issue 17, docs/console.md): a member's
// timeline from the source record to the member store, the lake and the targets, found by
// member id, message id or Kafka partition and offset.
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <optional>
#include <set>

#include "common/gzip.h"
#include "common/time.h"
#include "console/console_api.h"
#include "console/console_json.h"
#include "console/masking.h"
#include "domain/debezium.h"
#include "ops/dlq_work.h"

namespace memberflow::console {
namespace {

// Line `line` (1-based) of an archive object.
Result<std::string> readArchiveLine(ObjectStore& objects, const std::string& key, int64_t line) {
  auto data = objects.get(key);
  if (!data.isOk()) return data.status();
  std::string text;
  if (key.size() > 3 && key.compare(key.size() - 3, 3, ".gz") == 0) {
    auto plain = gzipDecompress(*data);
    if (!plain.isOk()) return plain.status();
    text = std::move(*plain);
  } else {
    text = std::move(*data);
  }
  size_t start = 0;
  for (int64_t n = 1; start <= text.size(); ++n) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (n == line) return text.substr(start, end - start);
    start = end + 1;
  }
  return Status::notFound("the archive object has no line " + std::to_string(line));
}

struct Record {
  std::string messageId;
  json::object coordinates;  // topic, partition, offset, archiveKey, archiveLine
  std::string result;
  std::string reason;
  const HistoryEntry* write = nullptr;
};

}  // namespace

api::ApiResponse ConsoleApi::lineage(const std::map<std::string, std::string>& query) {
  std::lock_guard lock(portsLock_);
  json::object asked;
  std::string memberId, askedMessage;
  json::object askedCoordinates;
  if (auto* m = param(query, "member")) {
    memberId = *m;
    asked["member"] = *m;
  } else if (auto* id = param(query, "message")) {
    askedMessage = *id;
    asked["message"] = *id;
  } else if (auto* p = param(query, "partition"); p && param(query, "offset")) {
    auto number = [](const std::string& v, int64_t max) -> std::optional<int64_t> {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || end != v.data() + v.size() || n < 0 || n > max) return std::nullopt;
      return n;
    };
    auto part = number(*p, std::numeric_limits<int32_t>::max());
    auto off = number(*param(query, "offset"), std::numeric_limits<int64_t>::max() - 1);
    if (!part || !off)
      return api::problem(400, "bad-request", "Bad request",
                          "partition and offset are non-negative integers");
    int32_t partition = static_cast<int32_t>(*part);
    int64_t offset = *off;
    asked["partition"] = partition;
    asked["offset"] = offset;
    auto reader = ports_.reader();
    if (!reader.isOk()) return fromStatus(reader.status());
    auto recs = (*reader)->read(partition, offset, offset + 1, 1);
    if (!recs.isOk()) return fromStatus(recs.status());
    if (recs->empty() || recs->front().offset != offset)
      return api::problem(404, "not-found", "Not found", "no record at that partition and offset");
    DecodedChange d = decodeChange(recs->front());
    askedMessage = d.messageId;
    memberId = d.memberId;
    askedCoordinates =
        json::object{{"topic", recs->front().topic}, {"partition", partition}, {"offset", offset}};
  } else {
    return api::problem(400, "bad-request", "Bad request",
                        "give member, message, or partition and offset");
  }
  auto ledger = ports_.ledger();
  if (!ledger.isOk()) return fromStatus(ledger.status());
  std::optional<LedgerEntry> askedEntry;
  if (!askedMessage.empty()) {
    auto e = (*ledger)->get(askedMessage);
    if (e.isOk()) {
      askedEntry = *e;
      if (!e->outcome.archiveKey.empty()) {
        askedCoordinates["archiveKey"] = e->outcome.archiveKey;
        askedCoordinates["archiveLine"] = e->outcome.archiveLine;
      }
    } else if (e.status().code() != Code::kNotFound) {
      return fromStatus(e.status());
    }
    if (memberId.empty() && askedEntry && !askedEntry->outcome.archiveKey.empty()) {
      auto objects = ports_.objects();
      if (!objects.isOk()) return fromStatus(objects.status());
      auto line = readArchiveLine(**objects, askedEntry->outcome.archiveKey,
                                  askedEntry->outcome.archiveLine);
      if (!line.isOk()) return fromStatus(line.status());
      auto parsed = parseJson(*line);
      if (parsed.isOk() && parsed->is_object()) {
        if (auto rec = recordFromArchiveLine(parsed->as_object(), ports_.topic())) {
          memberId = decodeChange(*rec).memberId;
          askedCoordinates["topic"] = rec->topic;
          askedCoordinates["partition"] = rec->partition;
          askedCoordinates["offset"] = rec->offset;
        }
      }
    }
    if (memberId.empty())
      return api::problem(404, "not-found", "Not found", "no record with that message id");
  }

  // The member's applied changes, in version order.
  auto members = ports_.members();
  if (!members.isOk()) return fromStatus(members.status());
  auto history = (*members)->history(memberId);
  std::vector<HistoryEntry> entries;
  if (history.isOk()) {
    entries = std::move(*history);
  } else if (history.status().code() != Code::kNotFound) {
    return fromStatus(history.status());
  }
  std::vector<Record> records;
  std::set<std::string> seen;
  for (const auto& h : entries) {
    Record r;
    r.messageId = h.messageId;
    r.coordinates = coordinatesOf(h.lineage);
    r.result = h.op == "erased" ? "erased" : "applied";
    r.write = &h;
    if (!h.messageId.empty()) seen.insert(h.messageId);
    records.push_back(std::move(r));
  }
  // The member's stale and no-op records (sourced writes that left no history row).
  if (auto outcomes = (*members)->outcomesOf(memberId); outcomes.isOk()) {
    for (const auto& w : *outcomes) {
      if (!seen.insert(w.messageId).second) continue;  // a retried write's second row
      Record r;
      r.messageId = w.messageId;
      r.result = w.result == "not_found" ? "noop" : w.result;
      r.reason = w.result;
      records.push_back(std::move(r));
    }
  }
  // The member's rejected records (the ingest DLQ), and the one asked about when it left no
  // history (a duplicate, parked, pending).
  auto rejected = ops::dlqEntries(ports_, ops::kIngestDlqName, std::nullopt, 10000);
  if (rejected.isOk()) {
    for (const auto& m : *rejected) {
      if (m.groupId != memberId) continue;
      auto body = parseJson(m.body);
      if (!body.isOk() || !body->is_object()) continue;
      Record r;
      r.messageId = stringField(body->as_object(), "messageId").value_or("");
      if (!seen.insert(r.messageId).second) continue;
      if (auto* lin = body->as_object().if_contains("lineage"); lin && lin->is_object())
        r.coordinates = coordinatesOf(lin->as_object());
      r.result = "rejected";
      r.reason = stringField(body->as_object(), "reason").value_or("");
      records.push_back(std::move(r));
    }
  }
  if (!askedMessage.empty() && !seen.count(askedMessage)) {
    Record r;
    r.messageId = askedMessage;
    r.coordinates = askedCoordinates;
    if (!askedEntry) {
      r.result = "unknown";
    } else if (askedEntry->outcome.outcome == MessageOutcome::kRejected) {
      r.result = "rejected";
    } else if (askedEntry->outcome.outcome == MessageOutcome::kSkipped) {
      r.result = "skipped";
    } else if (askedEntry->outcome.outcome == MessageOutcome::kPending) {
      r.result = "pending";
    } else {
      r.result = "not_applied";  // enqueued: stale, a no-op, a duplicate, parked or in flight
    }
    r.reason = askedEntry ? askedEntry->outcome.reason : "";
    records.push_back(std::move(r));
  } else if (!askedMessage.empty() && askedCoordinates.contains("offset")) {
    // The record asked about by its position, and a record of the same message id: the same
    // record (a stale or no-op one has no coordinates of its own: these are), or one at another
    // position, and then this is a second copy (a redelivery upstream) the ledger skipped.
    auto it = std::find_if(records.begin(), records.end(),
                           [&](const Record& r) { return r.messageId == askedMessage; });
    const json::object& c = it->coordinates;
    if (!c.contains("offset")) {
      it->coordinates = askedCoordinates;
    } else if (c.at("offset") != askedCoordinates.at("offset") ||
               (c.contains("partition") && c.at("partition") != askedCoordinates.at("partition"))) {
      Record r;
      r.messageId = askedMessage;
      r.coordinates = askedCoordinates;
      r.result = "duplicate";
      r.reason = "a second copy of a message id already processed";
      records.push_back(std::move(r));
    }
  }
  if (records.empty())
    return api::problem(404, "not-found", "Not found", "memberflow holds nothing of that member");

  // Ledger outcomes, lake objects and deliveries, in batches.
  std::vector<std::string> ids, eventIds;
  for (const auto& r : records) ids.push_back(r.messageId);
  for (const auto& r : records)
    if (r.write && !r.write->eventId.empty()) eventIds.push_back(r.write->eventId);
  auto outcomes = (*ledger)->getMany(ids);
  std::vector<std::string> lakeKeys;
  if (auto journal = ports_.lakeJournal(); journal.isOk()) {
    if (auto keys = (*journal)->objectsOf(eventIds); keys.isOk()) lakeKeys = std::move(*keys);
  }
  std::vector<std::string> targets;
  if (auto names = ports_.dlqNames(); names.isOk())
    for (const auto& n : *names)
      if (n.rfind("target-", 0) == 0) targets.push_back(n.substr(7));
  std::vector<DeliveryKey> keys;
  for (const auto& e : eventIds)
    for (const auto& t : targets) keys.push_back({t, e});
  std::vector<bool> delivered;
  if (!keys.empty()) {
    if (auto log = ports_.deliveries(); log.isOk()) {
      if (auto d = (*log)->delivered(keys); d.isOk()) delivered = std::move(*d);
    }
  }

  json::array out;
  size_t eventIndex = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    json::object o{{"messageId", r.messageId}, {"result", r.result}};
    if (!r.reason.empty()) o["reason"] = r.reason;
    json::object coordinates = r.coordinates;
    if (outcomes.isOk() && i < outcomes->size() && (*outcomes)[i]) {
      const LedgerEntry& e = *(*outcomes)[i];
      o["ledger"] = json::object{{"outcome", std::string(name(e.outcome.outcome))},
                                 {"reason", e.outcome.reason},
                                 {"completedAt", isoOrNull(e.completedAtMs)}};
      if (!coordinates.contains("archiveKey") && !e.outcome.archiveKey.empty()) {
        coordinates["archiveKey"] = e.outcome.archiveKey;
        coordinates["archiveLine"] = e.outcome.archiveLine;
      }
      // Ingest sent it to the changes queue in the member's FIFO group, deduplicated by its
      // message id.
      if (e.outcome.outcome == MessageOutcome::kEnqueued)
        o["queue"] =
            json::object{{"name", "changes"}, {"groupId", memberId}, {"dedupId", r.messageId}};
    } else {
      o["ledger"] = nullptr;
    }
    o["coordinates"] = std::move(coordinates);
    if (r.write) {
      const HistoryEntry& h = *r.write;
      json::array fields;
      for (const auto& f : h.changedFields) fields.push_back(json::value(f));
      o["write"] = json::object{{"version", h.version},
                                {"op", h.op},
                                {"sourceSequence", h.sourceSequence},
                                {"changedFields", std::move(fields)},
                                {"at", isoOrNull(h.appliedAtMs)}};
      if (!h.eventId.empty()) {
        size_t e = eventIndex++;
        json::array ds;
        for (size_t t = 0; t < targets.size(); ++t) {
          size_t k = e * targets.size() + t;
          ds.push_back(json::object{{"target", targets[t]},
                                    {"delivered", k < delivered.size() && delivered[k]}});
        }
        std::string lake = e < lakeKeys.size() ? lakeKeys[e] : "";
        o["event"] = json::object{{"id", h.eventId},
                                  {"type", "member." + h.op},
                                  {"lakeObject", lake.empty() ? json::value() : json::value(lake)}};
        o["deliveries"] = std::move(ds);
      }
    }
    out.push_back(std::move(o));
  }
  return jsonOk(
      json::object{{"memberId", memberId}, {"query", asked}, {"records", std::move(out)}});
}

api::ApiResponse ConsoleApi::archiveLine(const std::map<std::string, std::string>& query,
                                         const api::Claims& claims) {
  const std::string* key = param(query, "key");
  const std::string* line = param(query, "line");
  if (!key || !line || std::atoll(line->c_str()) < 1)
    return api::problem(400, "bad-request", "Bad request", "give key and line (1-based)");
  if (key->rfind("raw/", 0) != 0)
    return api::problem(400, "bad-request", "Bad request", "only raw archive objects are shown");
  bool reveal = param(query, "reveal") && *param(query, "reveal") == "1";
  std::lock_guard lock(portsLock_);
  auto objects = ports_.objects();
  if (!objects.isOk()) return fromStatus(objects.status());
  auto text = readArchiveLine(**objects, *key, std::atoll(line->c_str()));
  if (!text.isOk()) return fromStatus(text.status());
  if (reveal) {
    if (Status s = audit(claims, "archive.reveal", *key, 1, "line=" + *line); !s.isOk())
      return fromStatus(s);
  }
  json::object out{{"key", *key}, {"line", std::atoll(line->c_str())}, {"masked", !reveal}};
  if (reveal) {
    out["raw"] = *text;
  } else {
    out["raw"] = json::serialize(maskedText(*text));
  }
  return jsonOk(out);
}

}  // namespace memberflow::console
