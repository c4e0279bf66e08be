#include "stages/erase.h"

#include "common/gzip.h"
#include "common/json.h"
#include "common/log.h"
#include "common/time.h"
#include "domain/debezium.h"
#include "stages/ingest.h"

namespace memberflow {
namespace {

constexpr const char* kStage = "erase";
// A DLQ is read whole; one longer than this is refused rather than half erased.
constexpr size_t kMaxDlq = 10'000'000;

bool mentions(const json::value& v, const std::string& memberId, int depth) {
  if (depth > 8) return false;
  if (v.is_object()) {
    for (const auto& [k, f] : v.get_object()) {
      if (f.is_string() && (k == "memberId" || k == "member_id" || k == "subject") &&
          f.get_string() == memberId)
        return true;
      if (mentions(f, memberId, depth + 1)) return true;
    }
  } else if (v.is_array()) {
    for (const auto& f : v.get_array())
      if (mentions(f, memberId, depth + 1)) return true;
  } else if (v.is_string()) {
    std::string_view s = v.get_string();
    if (s.size() > 1 && s.front() == '{') {
      auto inner = parseJson(s);
      if (inner.isOk() && mentions(*inner, memberId, depth + 1)) return true;
    }
  }
  return false;
}

// Splits NDJSON into lines (the last one without its newline).
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p < text.size()) {
    size_t nl = text.find('\n', p);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(p, nl - p));
    p = nl + 1;
  }
  return out;
}

std::string joinLines(const std::vector<std::string>& ls) {
  std::string out;
  for (const auto& l : ls) {
    out += l;
    out.push_back('\n');
  }
  return out;
}

}  // namespace

bool recordOfMember(const SourceRecord& r, const std::string& memberId) {
  if (memberId.empty()) return false;
  if (decodeChange(r).memberId == memberId) return true;
  // A record whose key names another member (a key mismatch, rejected) still
  // carries this member's row: the rows count too.
  if (!r.value) return false;
  auto v = parseJson(*r.value);
  if (!v.isOk()) return false;
  const json::value& env = unwrapPayload(*v);
  if (!env.is_object()) return false;
  for (const char* side : {"after", "before"}) {
    auto it = env.get_object().find(side);
    if (it == env.get_object().end() || !it->value().is_object()) continue;
    if (stringField(it->value().get_object(), "member_id") == memberId) return true;
  }
  return false;
}

bool messageOfMember(const ReceivedMessage& m, const std::string& memberId) {
  if (memberId.empty()) return false;
  if (m.groupId == memberId) return true;
  auto v = parseJson(m.body);
  return v.isOk() && mentions(*v, memberId, 0);
}

std::string redactedLakeLine(const json::object& event, int64_t erasedAtMs) {
  json::object out;
  for (const char* k : {"specversion", "id", "source", "type", "subject", "time"}) {
    if (auto it = event.find(k); it != event.end()) out[k] = it->value();
  }
  out["redacted"] = "erased";
  out["erasedAt"] = isoMillis(erasedAtMs);
  return json::serialize(out);
}

Result<int64_t> Eraser::rewriteObjects(
    const std::string& prefix, const EraseOptions& opts,
    const std::function<int64_t(std::vector<std::string>&)>& redact, const std::string& what,
    EraseReport& report) {
  auto keys = t_.objects->list(prefix);
  if (!keys.isOk()) return keys.status();
  PutOptions po{"application/x-ndjson", "gzip", opts.kmsKeyId};
  int64_t redacted = 0;
  for (const auto& key : *keys) {
    auto raw = t_.objects->get(key);
    if (!raw.isOk()) return raw.status();
    auto text = gzipDecompress(*raw);
    if (!text.isOk()) return Status::internal(what + " object " + key + " is not gzip");
    auto ls = lines(*text);
    int64_t here = redact(ls);
    if (here == 0) continue;
    auto gz = gzipCompress(joinLines(ls));
    if (!gz.isOk()) return gz.status();
    // Same key: a put replaces the object atomically, and whatever names it by
    // key (the ledger, the lineage, the lake journal's event -> object map)
    // stays right.
    MF_RETURN_IF_ERROR(t_.objects->put(key, *gz, po));
    auto purged = t_.objects->purgeOldVersions(key);
    if (!purged.isOk()) return purged.status();
    report.counts[what + "ObjectVersionsDeleted"] += *purged;
    ++report.counts[what + "Objects"];
    redacted += here;
  }
  return redacted;
}

Result<int64_t> Eraser::eraseArchive(const EraseOptions& opts, EraseReport& report) {
  return rewriteObjects(
      opts.rawPrefix, opts,
      [&](std::vector<std::string>& ls) {
        int64_t n = 0;
        for (auto& line : ls) {
          auto v = parseJson(line);
          if (!v.isOk() || !v->is_object()) continue;
          auto r = recordFromArchiveLine(v->get_object(),
                                         opts.topic);  // nullopt: redacted
          if (!r || !recordOfMember(*r, opts.memberId)) continue;
          line =
              redactedArchiveLine(r->partition, r->offset, decodeChange(*r).messageId, opts.nowMs);
          ++n;
        }
        return n;
      },
      "archive", report);
}

Result<int64_t> Eraser::eraseLake(const EraseOptions& opts, EraseReport& report) {
  // The member's events in one object's lines: replaced by markers; how many
  // were.
  auto redactLines = [&](std::vector<std::string>& ls) {
    int64_t n = 0;
    for (auto& line : ls) {
      auto v = parseJson(line);
      if (!v.isOk() || !v->is_object()) continue;
      const json::object& ev = v->get_object();
      if (ev.contains("redacted") || stringField(ev, "subject") != opts.memberId) continue;
      if (stringField(ev, "type") == std::optional<std::string>("member.erased")) continue;
      line = redactedLakeLine(ev, opts.nowMs);
      ++n;
    }
    return n;
  };
  auto redacted = rewriteObjects(opts.lakePrefix, opts, redactLines, "lake", report);
  if (!redacted.isOk() || !t_.journal) return redacted;
  auto staged = t_.journal->staged();
  if (!staged.isOk()) return staged.status();
  for (const auto& obj : *staged) {
    auto text = gzipDecompress(obj.content);
    if (!text.isOk()) return Status::internal("staged lake object " + obj.key + " is not gzip");
    auto ls = lines(*text);
    int64_t here = redactLines(ls);
    if (here == 0) continue;
    auto gz = gzipCompress(joinLines(ls));
    if (!gz.isOk()) return gz.status();
    MF_RETURN_IF_ERROR(t_.journal->restage({obj.key, *gz}));
    ++report.counts["lakeStagedObjects"];
    *redacted += here;
  }
  return redacted;
}

Result<int64_t> Eraser::eraseQueue(Queue& q, const std::string& memberId) {
  // Every entry is received (on SQS, peek is a receive too) until none is left:
  // the member's are removed at once, which lets the next receive return the
  // rest of the member's FIFO group; the others stay hidden (so each is seen
  // once) and are made visible again at the end.
  constexpr int64_t kHideMs = 5 * 60 * 1000;
  // A long poll, so that an empty answer means no entry is left: SQS's short
  // poll (a wait under a second, its WaitTimeSeconds being whole seconds) asks
  // only some of its servers and may answer empty while entries remain. The
  // price: a second per DLQ, when it is empty.
  constexpr int64_t kWaitMs = 1000;
  std::vector<std::string> others;
  int64_t removed = 0;
  size_t seen = 0;
  for (;;) {
    auto got = q.receive(10, kHideMs, kWaitMs);
    if (!got.isOk()) return got.status();
    if (got->empty()) break;
    std::vector<std::string> mine;
    for (const auto& m : *got) {
      (messageOfMember(m, memberId) ? mine : others).push_back(m.receiptHandle);
    }
    if (!mine.empty()) MF_RETURN_IF_ERROR(q.remove(mine));
    removed += static_cast<int64_t>(mine.size());
    seen += got->size();
    if (seen > kMaxDlq) return Status::failedPrecondition("erase: " + q.name() + " is too long");
  }
  for (const auto& receipt : others) MF_RETURN_IF_ERROR(q.changeVisibility(receipt, 0));
  return removed;
}

Result<EraseReport> Eraser::run(const EraseOptions& opts) {
  if (opts.memberId.empty()) return Status::invalidArgument("erase: no member id");
  if (!opts.force) {
    for (Queue* q : t_.working) {
      if (!q) continue;
      auto st = q->stats();
      if (!st.isOk()) return st.status();
      if (st->visible + st->inFlight > 0) {
        return Status::failedPrecondition(
            "erase: queue " + q->name() +
            " holds messages; drain and stop the pipeline first (memberflow "
            "run --until-idle)");
      }
    }
  }
  EraseReport report;
  log::info("erasure started", {kStage, {}, opts.memberId, {}, "started", {}});
  if (t_.members) {
    auto m = t_.members->erase(opts.memberId, opts.nowMs);
    if (!m.isOk()) return m.status();
    report.known = m->known;
    report.eventId = m->eventId;
    report.counts["memberRows"] = m->known && !m->alreadyErased ? 1 : 0;
    report.counts["historyRowsKept"] = m->historyRows;
    report.counts["idempotencyRecords"] = m->replays;
    report.counts["outboxEvents"] = m->outbox;
  }
  if (t_.objects) {
    auto a = eraseArchive(opts, report);
    if (!a.isOk()) return a.status();
    report.counts["archiveLines"] = *a;
    auto l = eraseLake(opts, report);
    if (!l.isOk()) return l.status();
    report.counts["lakeEvents"] = *l;
  }
  if (t_.source) {
    std::string member = opts.memberId;
    auto n = t_.source->redact(
        [&member](const SourceRecord& r) -> std::optional<SourceRedactor::Replacement> {
          for (const auto& [k, v] : r.headers)
            if (k == "memberflow-redacted") return std::nullopt;  // redacted already
          if (!recordOfMember(r, member)) return std::nullopt;
          SourceRedactor::Replacement out;
          out.headers = {{"id", decodeChange(r).messageId}, {"memberflow-redacted", "erased"}};
          return out;
        });
    if (!n.isOk()) return n.status();
    report.counts["sourceRecords"] = *n;
  }
  int64_t dlq = 0;
  for (Queue* q : t_.dlqs) {
    if (!q) continue;
    auto n = eraseQueue(*q, opts.memberId);
    if (!n.isOk()) return n.status();
    dlq += *n;
  }
  report.counts["dlqEntries"] = dlq;
  if (t_.parking) {
    auto n = t_.parking->erase(opts.memberId);
    if (!n.isOk()) return n.status();
    report.counts["parkedChanges"] = *n;
  }
  if (t_.members) {
    json::object counts;
    for (const auto& [k, n] : report.counts) counts[k] = n;
    MF_RETURN_IF_ERROR(
        t_.members->recordErasure({opts.memberId, opts.nowMs, opts.reason, std::move(counts)}));
  }
  log::info("member erased", {kStage, {}, opts.memberId, report.eventId, "erased", {}});
  return report;
}

}  // namespace memberflow
