#include "ops/dlq_work.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"

namespace memberflow::ops {
namespace {

constexpr const char* kStage = "operator";

bool selected(const ReceivedMessage& m, const RedriveRequest& r) {
  if (!r.ids.empty() && std::find(r.ids.begin(), r.ids.end(), m.messageId) == r.ids.end())
    return false;
  if (r.reason) {
    auto it = m.attributes.find("reason");
    if ((it == m.attributes.end() ? std::string() : it->second) != *r.reason) return false;
  }
  return !r.member || m.groupId == *r.member;
}

// A dead change as the parking store holds it: the change's own message id (not the DLQ
// copy's) and its attributes without what the dead-lettering added.
ParkedChange deadChange(const ReceivedMessage& m) {
  ParkedChange c;
  c.body = m.body;
  c.attributes = m.attributes;
  for (const char* k : {"reason", "stage", "receiveCount"}) c.attributes.erase(k);
  auto v = parseJson(m.body);
  if (v.isOk() && v->is_object())
    c.messageId = stringField(v->get_object(), "messageId").value_or("");
  if (c.messageId.empty()) c.messageId = m.dedupId.substr(0, m.dedupId.find(":dlq:"));
  return c;
}

// Paces a redrive at `rate` entries per second (0: no pace).
class Pace {
 public:
  explicit Pace(double rate) : rate_(rate) {}
  void next() {
    if (rate_ <= 0) return;
    auto due = start_ + std::chrono::duration<double>(static_cast<double>(n_++) / rate_);
    std::this_thread::sleep_until(due);
  }

 private:
  double rate_;
  int64_t n_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// What redriving one entry does (or, in a dry run, would do).
enum class Action { kRedriven, kReleased, kKept };

class Redriver {
 public:
  Redriver(OperatorPorts& ports, Queue& dlq, bool isIngest, bool isChanges, bool dryRun)
      : ports_(ports), dlq_(dlq), ingest_(isIngest), changes_(isChanges), dry_(dryRun) {}

  Result<Action> drive(const ReceivedMessage& m) {
    if (ingest_) {
      auto stage = ports_.ingest();
      if (!stage.isOk()) return stage.status();
      Status s = (*stage)->redrive(m.body, dry_);
      if (s.code() == Code::kFailedPrecondition) return Action::kKept;
      if (!s.isOk()) return s;
      return Action::kRedriven;
    }
    if (changes_) {
      auto parking = ports_.parking();
      if (!parking.isOk()) return parking.status();
      auto parked = (*parking)->state({m.groupId});
      if (!parked.isOk()) return parked.status();
      if ((*parked)[0]) {
        if (dry_) return Action::kReleased;
        Status rs = (*parking)->release(m.groupId, deadChange(m), ports_.clock().nowMs());
        if (rs.isOk()) {
          log::info("member released",
                    {kStage, deadChange(m).messageId, m.groupId, {}, "released", {}});
          return Action::kReleased;
        }
        if (rs.code() != Code::kNotFound) return rs;
        // Unparked by a drain just now: back to the changes queue as any other.
      }
    }
    if (dry_) return Action::kRedriven;
    Queue* back = nullptr;
    if (changes_) {
      auto q = ports_.changes();
      if (!q.isOk()) return q.status();
      back = *q;
    } else {
      auto q = ports_.queueOf(dlq_);
      if (!q.isOk()) return q.status();
      back = *q;
    }
    OutgoingMessage o{m.groupId, m.dedupId + ":redrive:" + m.messageId, m.body, {}};
    MF_RETURN_IF_ERROR(back->send({o}));
    return Action::kRedriven;
  }

 private:
  OperatorPorts& ports_;
  Queue& dlq_;
  bool ingest_, changes_, dry_;
};

void count(RedriveResult& r, Action a) {
  if (a == Action::kKept) {
    ++r.kept;
  } else {
    ++r.redriven;
    if (a == Action::kReleased) ++r.membersReleased;
  }
}

std::string summaryOf(const RedriveResult& r, bool isIngest) {
  std::string s;
  if (isIngest) {
    s = (r.dryRun ? "re-validated: " : "redriven: ") + std::to_string(r.redriven) + " now valid, " +
        std::to_string(r.kept) + " still invalid" + (r.dryRun ? "" : " (kept)");
  } else {
    s = (r.dryRun ? "would redrive " : "redriven ") + std::to_string(r.redriven);
  }
  if (r.membersReleased > 0)
    s += ", " + std::to_string(r.membersReleased) +
         (r.dryRun ? " member(s) would be released" : " member(s) released");
  return s;
}

}  // namespace

json::object RedriveResult::toJson() const {
  json::object o{{"dlq", dlq},
                 {"dryRun", dryRun},
                 {"selected", selected},
                 {"membersReleased", membersReleased},
                 {"summary", summary}};
  if (dryRun) {
    o["wouldRedrive"] = redriven;
    o["wouldKeep"] = kept;
  } else {
    o["redriven"] = redriven;
    o["kept"] = kept;
    o["copiesDropped"] = copiesDropped;
  }
  return o;
}

Result<std::vector<DlqSummary>> summarizeDlqs(OperatorPorts& ports, size_t maxEntries) {
  auto names = ports.dlqNames();
  if (!names.isOk()) return names.status();
  std::vector<DlqSummary> out;
  for (const auto& name : *names) {
    auto q = ports.dlq(name);
    if (!q.isOk()) return q.status();
    auto st = (*q)->stats();
    if (!st.isOk()) return st.status();
    DlqSummary d{name, (*q)->name(), st->visible, st->inFlight, st->oldestSentAtMs, {}, false};
    auto msgs = (*q)->peek(maxEntries);
    if (!msgs.isOk()) return msgs.status();
    d.truncated = st->visible > static_cast<int64_t>(msgs->size());
    std::map<std::string, ReasonGroup> groups;
    std::unordered_set<std::string> seen;
    for (const auto& m : *msgs) {
      if (!m.dedupId.empty() && !seen.insert(m.dedupId).second) continue;
      auto it = m.attributes.find("reason");
      std::string reason = it == m.attributes.end() ? "" : it->second;
      ReasonGroup& g = groups[reason];
      g.reason = reason;
      ++g.count;
      if (m.sentAtMs > 0 && (g.oldestSentAtMs == 0 || m.sentAtMs < g.oldestSentAtMs))
        g.oldestSentAtMs = m.sentAtMs;
      if (m.sentAtMs > 0 && (d.oldestSentAtMs == 0 || m.sentAtMs < d.oldestSentAtMs))
        d.oldestSentAtMs = m.sentAtMs;
    }
    for (auto& [_, g] : groups) d.groups.push_back(std::move(g));
    std::stable_sort(d.groups.begin(), d.groups.end(),
                     [](const ReasonGroup& a, const ReasonGroup& b) { return a.count > b.count; });
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<ReceivedMessage>> dlqEntries(OperatorPorts& ports, const std::string& dlq,
                                                const std::optional<std::string>& reason,
                                                size_t limit) {
  auto q = ports.dlq(dlq);
  if (!q.isOk()) return q.status();
  auto st = (*q)->stats();
  if (!st.isOk()) return st.status();
  size_t depth = static_cast<size_t>(std::max<int64_t>(0, st->visible + st->inFlight));
  auto msgs = (*q)->peek(reason ? std::max(limit, depth) : limit);
  if (!msgs.isOk()) return msgs.status();
  RedriveRequest filter;
  filter.reason = reason;
  std::vector<ReceivedMessage> out;
  std::unordered_set<std::string> seen;
  for (auto& m : *msgs) {
    if (out.size() >= limit) break;
    if (!m.dedupId.empty() && !seen.insert(m.dedupId).second) continue;
    if (selected(m, filter)) out.push_back(std::move(m));
  }
  return out;
}

Result<RedriveResult> redriveDlq(OperatorPorts& ports, const std::string& name,
                                 const RedriveRequest& req) {
  auto q = ports.dlq(name);
  if (!q.isOk()) return q.status();
  Queue& dlq = **q;
  auto changes = ports.dlq(kChangesDlqName);
  auto ingest = ports.dlq(kIngestDlqName);
  bool isChanges = changes.isOk() && *changes == &dlq;
  bool isIngest = ingest.isOk() && *ingest == &dlq;
  RedriveResult r;
  r.dlq = name;
  r.dryRun = req.dryRun;
  Redriver driver(ports, dlq, isIngest, isChanges, req.dryRun);
  auto st = dlq.stats();
  if (!st.isOk()) return st.status();
  int64_t total = st->visible, seen = 0;
  std::unordered_set<std::string> driven;  // dedup ids redriven (or kept) in this run

  if (req.dryRun) {  // peeked, not received: nothing changes
    auto msgs = dlq.peek(static_cast<size_t>(std::max<int64_t>(total, 0)));
    if (!msgs.isOk()) return msgs.status();
    for (const auto& m : *msgs) {
      if (!selected(m, req)) continue;
      if (!m.dedupId.empty() && !driven.insert(m.dedupId).second) continue;
      ++r.selected;
      auto a = driver.drive(m);
      if (!a.isOk()) return a.status();
      count(r, *a);
    }
    r.summary = summaryOf(r, isIngest);
    return r;
  }

  Pace pace(req.ratePerSecond);
  // A batch is held for as long as the pace needs to go through it, with margin.
  size_t batchSize = req.batch > 0 ? req.batch
                     : req.ratePerSecond > 0
                         ? static_cast<size_t>(std::clamp(req.ratePerSecond * 10, 1.0, 100.0))
                         : 100;
  int64_t visibilityMs =
      req.holdMs > 0 ? req.holdMs
      : req.ratePerSecond > 0
          ? std::max<int64_t>(60000, static_cast<int64_t>(3000.0 * static_cast<double>(batchSize) /
                                                          req.ratePerSecond))
          : 60000;
  // The entries this run looked at and left on the DLQ (not selected, or still invalid), by
  // the DLQ's message id, with their latest receipt. One that comes back (its visibility ran
  // out during a long, paced run) is hidden anew: neither counted again nor taken for a second
  // copy of itself. All are made visible again at the end.
  std::unordered_map<std::string, std::string> left;
  int repeatsOnly = 0;  // batches in a row that held only entries looked at already
  while (seen < total && repeatsOnly < 3) {
    // A long poll: on SQS an empty short poll does not mean an empty queue.
    auto batch = dlq.receive(batchSize, visibilityMs, 1000);
    if (!batch.isOk()) return batch.status();
    if (batch->empty()) break;
    std::vector<std::string> done;
    bool fresh = false;
    for (const auto& m : *batch) {
      if (auto it = left.find(m.messageId); it != left.end()) {
        it->second = m.receiptHandle;
        continue;
      }
      fresh = true;
      ++seen;
      if (!selected(m, req)) {
        left[m.messageId] = m.receiptHandle;
        continue;
      }
      if (!m.dedupId.empty() && !driven.insert(m.dedupId).second) {
        done.push_back(m.receiptHandle);  // a second copy (standard queues deliver at least once)
        ++r.copiesDropped;
        continue;
      }
      ++r.selected;
      pace.next();
      auto a = driver.drive(m);
      if (!a.isOk()) {
        (void)dlq.remove(done);
        for (const auto& [id, h] : left) (void)dlq.changeVisibility(h, 0);
        return a.status();
      }
      count(r, *a);
      if (*a == Action::kKept) {
        left[m.messageId] = m.receiptHandle;
      } else {
        done.push_back(m.receiptHandle);
      }
    }
    MF_RETURN_IF_ERROR(dlq.remove(done));
    if (req.progress) req.progress(seen);
    repeatsOnly = fresh ? 0 : repeatsOnly + 1;
  }
  for (const auto& [id, h] : left) (void)dlq.changeVisibility(h, 0);
  r.summary = summaryOf(r, isIngest);
  return r;
}

}  // namespace memberflow::ops
