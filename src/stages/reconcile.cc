// The reconciler (reconcile.h). Over 500 lines on purpose: one walk whose indexes (lake,
// history, outcomes, DLQ and parking ids, deliveries) are built and joined in one function's
// scope, in the read order that keeps a running pipeline from producing false gaps; its two
// helpers (the archive cache, the routes) serve only it.
#include "stages/reconcile.h"

#include <list>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/gzip.h"
#include "common/json.h"
#include "domain/debezium.h"
#include "domain/event_pattern.h"
#include "stages/ingest.h"

namespace memberflow {
namespace {

// A DLQ or the outbox longer than this is reported as an error rather than half read.
constexpr size_t kPeekLimit = 10'000'000;
constexpr size_t kScanPage = 5000;

std::string bodyString(const std::string& body, std::string_view name) {
  auto v = parseJson(body);
  if (!v.isOk() || !v->is_object()) return {};
  return stringField(v->get_object(), name).value_or("");
}

// The ids held by a queue: the body's `field` of each message (a DLQ entry or a command carries
// its message id; an event its id).
Result<std::unordered_set<std::string>> idsIn(Queue* q, std::string_view field) {
  std::unordered_set<std::string> out;
  if (!q) return out;
  auto msgs = q->peek(kPeekLimit);
  if (!msgs.isOk()) return msgs.status();
  if (msgs->size() >= kPeekLimit)
    return Status::failedPrecondition("reconcile: queue " + q->name() + " is too long to read");
  for (const auto& m : *msgs) {
    std::string id = bodyString(m.body, field);
    if (id.empty()) {
      auto a = m.attributes.find(std::string(field));
      if (a != m.attributes.end()) id = a->second;
    }
    if (!id.empty()) out.insert(std::move(id));
  }
  return out;
}

// The lines of raw archive objects, decompressed once each while records of the object come by
// (a partition's records sit in a few consecutive objects).
class ArchiveCache {
 public:
  explicit ArchiveCache(ObjectStore& store) : store_(store) {}
  struct Object {
    std::string text;
    std::vector<std::string_view> lines;
  };
  // nullptr when the object does not exist. Another failure is the caller's error.
  Result<const Object*> get(const std::string& key) {
    for (auto it = lru_.begin(); it != lru_.end(); ++it) {
      if (it->first != key) continue;
      lru_.splice(lru_.begin(), lru_, it);
      return lru_.front().second.get();
    }
    auto raw = store_.get(key);
    std::unique_ptr<Object> obj;
    if (raw.isOk()) {
      auto text = gzipDecompress(*raw);
      if (!text.isOk()) return Status::internal("archive object " + key + " is not gzip");
      obj = std::make_unique<Object>();
      obj->text = std::move(text).value();
      std::string_view all = obj->text;
      while (!all.empty()) {
        size_t nl = all.find('\n');
        obj->lines.push_back(all.substr(0, nl));
        if (nl == std::string_view::npos) break;
        all.remove_prefix(nl + 1);
      }
      ++read_;
    } else if (raw.status().code() != Code::kNotFound) {
      return raw.status();
    }
    lru_.emplace_front(key, std::move(obj));
    if (lru_.size() > kCapacity) lru_.pop_back();
    return lru_.front().second.get();
  }
  int64_t read() const { return read_; }

 private:
  static constexpr size_t kCapacity = 8;
  ObjectStore& store_;
  std::list<std::pair<std::string, std::unique_ptr<Object>>> lru_;
  int64_t read_ = 0;
};

struct Applied {
  std::string eventId;
  std::string memberId;
  int rows = 0;
};

struct InLake {
  int lines = 0;
  bool inHistory = false;  // a history row wrote it
  uint32_t firstKey = 0;   // the objects holding it (indexes into the list of lake keys)
  uint32_t otherKey = UINT32_MAX;
  std::vector<std::pair<uint16_t, uint16_t>> routes;  // (rule, target) indexes it should reach
};

// The rules of every bus, compiled with the bus's own matcher, and the (rule, target) pairs an
// event reaches: the rules of the bus it is put on, and through each bus target the rules of
// that bus (as the embedded bus and target delivery forward it).
class Routes {
 public:
  static Result<std::unique_ptr<Routes>> compile(const RoutingConfig& cfg) {
    auto r = std::make_unique<Routes>();
    r->cfg_ = &cfg;
    for (size_t i = 0; i < cfg.rules.size(); ++i) {
      auto& bus = r->buses_[cfg.rules[i].bus];
      if (!bus.rules) bus.rules = std::make_unique<RuleSet>();
      MF_RETURN_IF_ERROR(bus.rules->add(cfg.rules[i].name, cfg.rules[i].pattern));
      bus.index.push_back(static_cast<uint16_t>(i));
    }
    return r;
  }
  void reach(const BusEntry& e, const std::string& busName, int depth,
             std::vector<std::pair<uint16_t, uint16_t>>& out) const {
    auto bus = buses_.find(busName);
    if (bus == buses_.end() || depth > 8) return;  // a loop of buses ends somewhere
    json::value ev(busEnvelope(e, busName));
    for (const auto& ruleName : bus->second.rules->match(ev)) {
      for (uint16_t ri : bus->second.index) {
        const RuleConfig& rule = cfg_->rules[ri];
        if (rule.name != ruleName) continue;
        for (const auto& t : rule.targets) {
          uint16_t ti = targetIndex(t);
          out.emplace_back(ri, ti);
          const TargetConfig& tc = cfg_->targets[ti];
          if (tc.kind == TargetConfig::Kind::kBus) reach(e, tc.bus, depth + 1, out);
        }
      }
    }
  }
  const RoutingConfig& cfg() const { return *cfg_; }

 private:
  uint16_t targetIndex(const std::string& name) const {
    for (size_t i = 0; i < cfg_->targets.size(); ++i)
      if (cfg_->targets[i].name == name) return static_cast<uint16_t>(i);
    return 0;  // parseRoutingConfig checked that every target is defined
  }
  struct Bus {
    std::unique_ptr<RuleSet> rules;
    std::vector<uint16_t> index;  // rule indexes in the RuleSet's order
  };
  const RoutingConfig* cfg_ = nullptr;
  std::map<std::string, Bus> buses_;
};

}  // namespace

Result<ReconcileReport> Reconciler::run(const ReconcileOptions& opts, const Sink& sink) {
  ReconcileReport report;
  auto emit = [&](Discrepancy d) {
    ++report.discrepancies;
    sink(d);
  };

  // Where things come from is read before where they end up: the committed offsets, queue
  // counts, DLQs, parking, outbox and staged lake objects first, then history and the lake. A
  // change that moves on while reconcile reads is then found at its end, never missed between.
  auto ranges = source_.ranges();
  if (!ranges.isOk()) return ranges.status();

  // 1. What is on its way. The DLQs are read (they are only ever read by operators); the
  // working queues only counted: on SQS a read is a receive, which would spend the attempts
  // of a running pipeline's messages. While one of them holds work, a record or event not
  // found yet is counted as on its way rather than reported.
  auto ingestDlq = idsIn(queues_.ingestDlq, "messageId");
  auto changesDead = idsIn(queues_.changesDlq, "messageId");
  for (auto* r : {&ingestDlq, &changesDead})
    if (!r->isOk()) return r->status();
  auto pending = [](Queue* q) -> Result<bool> {
    if (!q) return false;
    auto st = q->stats();
    if (!st.isOk()) return st.status();
    return st->visible + st->inFlight > 0;
  };
  std::unordered_set<std::string> heldForParked;
  if (queues_.parking) {
    auto parked = queues_.parking->list(kPeekLimit);
    if (!parked.isOk()) return parked.status();
    for (const auto& p : *parked) {
      auto held = queues_.parking->held(p.memberId, kPeekLimit);
      if (!held.isOk()) return held.status();
      for (const auto& h : *held) heldForParked.insert(h.messageId);
    }
  }
  auto changesPending = pending(queues_.changes);
  if (!changesPending.isOk()) return changesPending.status();
  // A change still in the changes queue may be applied while this runs: its event may then be
  // missing from the lake read later, on its way.
  bool eventsPending = *changesPending;
  for (Queue* q : {queues_.route, queues_.lake}) {
    auto p = pending(q);
    if (!p.isOk()) return p.status();
    eventsPending = eventsPending || *p;
  }
  std::unordered_set<std::string> eventsOnTheirWay;
  {
    auto ob = members_.outbox(kPeekLimit);
    if (!ob.isOk()) return ob.status();
    for (const auto& e : *ob) eventsOnTheirWay.insert(e.eventId);
  }
  if (journal_) {
    auto staged = journal_->staged();
    if (!staged.isOk()) return staged.status();
    for (const auto& s : *staged) {
      std::string_view all = s.content;
      while (!all.empty()) {
        size_t nl = all.find('\n');
        std::string id = bodyString(std::string(all.substr(0, nl)), "id");
        if (!id.empty()) eventsOnTheirWay.insert(std::move(id));
        all.remove_prefix(nl == std::string_view::npos ? all.size() : nl + 1);
      }
    }
  }

  // 2. The lake (read before history: an event is written after its history row), by event id, with
  // the targets it should reach.
  std::unique_ptr<Routes> routes;
  if (deliveries_.routing && deliveries_.log) {
    auto r = Routes::compile(*deliveries_.routing);
    if (!r.isOk()) return r.status();
    routes = std::move(r).value();
    report.deliveriesChecked = true;
  }
  std::unordered_map<std::string, InLake> lake;
  std::vector<std::string> lakeKeys;
  {
    auto keys = objects_.list(opts.lakePrefix);
    if (!keys.isOk()) return keys.status();
    lakeKeys = std::move(keys).value();
    for (size_t ki = 0; ki < lakeKeys.size(); ++ki) {
      const std::string& key = lakeKeys[ki];
      auto raw = objects_.get(key);
      if (!raw.isOk()) return raw.status();
      auto text = gzipDecompress(*raw);
      if (!text.isOk()) return Status::internal("lake object " + key + " is not gzip");
      ++report.lakeObjects;
      std::string_view all = *text;
      int64_t lineNo = 0;
      while (!all.empty()) {
        size_t nl = all.find('\n');
        std::string_view line = all.substr(0, nl);
        all.remove_prefix(nl == std::string_view::npos ? all.size() : nl + 1);
        ++lineNo;
        if (line.empty()) continue;
        auto ev = parseJson(line);
        const json::object* o = ev.isOk() && ev->is_object() ? &ev->get_object() : nullptr;
        std::string id = o ? stringField(*o, "id").value_or("") : "";
        if (id.empty()) {
          emit({"lake_line_unreadable",
                {},
                {},
                {},
                {},
                {},
                "line " + std::to_string(lineNo) + " is not an event with an id",
                key});
          continue;
        }
        ++report.lakeEvents;
        InLake& l = lake[id];
        if (++l.lines == 1) {
          l.firstKey = static_cast<uint32_t>(ki);
          if (routes) {
            BusEntry e{id,
                       stringField(*o, "source").value_or(""),
                       stringField(*o, "type").value_or(""),
                       std::string(line),
                       stringField(*o, "time").value_or(""),
                       stringField(*o, "subject").value_or("")};
            routes->reach(e, "default", 0, l.routes);
          }
        } else if (l.otherKey == UINT32_MAX) {
          l.otherKey = static_cast<uint32_t>(ki);
        }
      }
    }
  }

  // 3. What the member store applied (by message id), marking the lake events it wrote.
  std::unordered_map<std::string, Applied> applied;
  for (int64_t after = 0;;) {
    auto page = members_.scanHistory(after, kScanPage);
    if (!page.isOk()) return page.status();
    if (page->empty()) break;
    for (auto& h : *page) {
      after = h.seq;
      ++report.historyRows;
      if (auto l = lake.find(h.entry.eventId); l != lake.end()) l->second.inHistory = true;
      if (h.entry.messageId.empty()) continue;  // a direct API write
      Applied& a = applied[h.entry.messageId];
      if (++a.rows == 1) {
        a.eventId = h.entry.eventId;
        a.memberId = h.memberId;
      }
    }
  }
  std::unordered_map<std::string, std::string> outcomes;  // message id -> stale, noop, ...
  for (int64_t after = 0;;) {
    auto page = members_.scanOutcomes(after, kScanPage);
    if (!page.isOk()) return page.status();
    if (page->empty()) break;
    for (auto& o : *page) {
      after = o.seq;
      outcomes.emplace(o.messageId, o.result);
    }
  }

  // What each delivered target received or dead-lettered, keyed target + '\n' + event id.
  std::unordered_set<std::string> delivered, deadDeliveries;
  bool deliveriesPending = false;
  if (routes) {
    for (int64_t after = 0;;) {
      auto page = deliveries_.log->scan(after, kScanPage);
      if (!page.isOk()) return page.status();
      if (page->empty()) break;
      for (const auto& d : *page) {
        after = d.seq;
        delivered.insert(d.target + '\n' + d.eventId);
      }
    }
    for (const auto& t : routes->cfg().targets) {
      Queue* dlq = deliveries_.dlq ? deliveries_.dlq(t.name) : nullptr;
      if (dlq) {
        auto msgs = dlq->peek(kPeekLimit);
        if (!msgs.isOk()) return msgs.status();
        for (const auto& m : *msgs) {
          std::string id = bodyString(m.body, "eventId");
          if (!id.empty()) deadDeliveries.insert(t.name + '\n' + id);
        }
      }
      auto p = pending(deliveries_.queue ? deliveries_.queue(t.name) : nullptr);
      if (!p.isOk()) return p.status();
      deliveriesPending = deliveriesPending || *p;
    }
  }

  // 4. The source records in range, a batch at a time.
  ArchiveCache archive(objects_);
  std::unordered_set<std::string> seen;
  auto count = [&](const std::string& what) { ++report.outcomes[what]; };

  auto account = [&](const SourceRecord& r, const std::string& id,
                     const std::optional<LedgerEntry>& entry) -> Status {
    ++report.records;
    Discrepancy d;
    d.partition = r.partition;
    d.offset = r.offset;
    d.messageId = id;
    if (!seen.insert(id).second) {
      count("duplicate");
      return Status::ok();
    }
    if (!entry) {
      if (opts.ledgerTtlMs > 0 && r.timestampMs + opts.ledgerTtlMs < opts.nowMs) {
        count("beyond_ledger_retention");
        return Status::ok();
      }
      d.kind = "no_ledger_entry";
      d.what = "the record has no ledger entry";
      d.where = "ledger";
      emit(std::move(d));
      return Status::ok();
    }
    const LedgerOutcome& lo = entry->outcome;
    if (lo.outcome == MessageOutcome::kPending) {
      d.kind = "ledger_pending";
      d.what = "claimed by ingest and never completed";
      d.where = "ledger";
      emit(std::move(d));
      return Status::ok();
    }
    // The archive must hold this very record where the ledger says.
    d.where = lo.archiveKey + " line " + std::to_string(lo.archiveLine);
    auto obj = archive.get(lo.archiveKey);
    if (!obj.isOk()) return obj.status();
    if (lo.archiveKey.empty() || !*obj) {
      d.kind = "archive_object_missing";
      d.what = "the archive object the ledger names does not exist";
      emit(std::move(d));
      return Status::ok();
    }
    const auto& lines = (*obj)->lines;
    if (lo.archiveLine < 1 || static_cast<size_t>(lo.archiveLine) > lines.size()) {
      d.kind = "archive_line_missing";
      d.what = "the archive object has no such line";
      emit(std::move(d));
      return Status::ok();
    }
    std::string_view line = lines[static_cast<size_t>(lo.archiveLine - 1)];
    if (line != rawArchiveLine(r)) {
      // The ledger names another record with this message id (an earlier copy): a duplicate.
      auto v = parseJson(line);
      if (v.isOk() && v->is_object()) {
        auto p = intField(v->get_object(), "partition");
        auto o = intField(v->get_object(), "offset");
        if (p && o && (*p != r.partition || *o != r.offset)) {
          count("duplicate");
          return Status::ok();
        }
        // `memberflow erase` put a redaction marker in its place: the record is accounted for
        // as erased (its member's copies are gone, by design).
        if (p && o && isRedacted(v->get_object())) {
          count("erased");
          return Status::ok();
        }
      }
      d.kind = "archive_line_differs";
      d.what = "the archived line is not this record";
      emit(std::move(d));
      return Status::ok();
    }
    d.where.clear();

    auto appliedCheck = [&](const Applied& a) {
      count("applied");
      d.memberId = a.memberId;
      d.eventId = a.eventId;
      if (a.rows > 1) {
        Discrepancy dup = d;
        dup.kind = "history_duplicate";
        dup.what = "applied " + std::to_string(a.rows) + " times: one history row expected";
        dup.where = "member store history";
        emit(std::move(dup));
      }
      if (a.eventId.empty()) return;
      if (auto l = lake.find(a.eventId); l != lake.end()) {  // duplicates: step 5
        for (auto [ri, ti] : l->second.routes) {
          const std::string& target = routes->cfg().targets[ti].name;
          std::string k = target + '\n' + a.eventId;
          if (delivered.count(k)) {
            ++report.deliveries["delivered"];
          } else if (deadDeliveries.count(k)) {
            ++report.deliveries["dead_lettered"];
          } else if (deliveriesPending) {
            ++report.deliveries["on_its_way"];
          } else {
            Discrepancy miss = d;
            miss.kind = "delivery_missing";
            miss.what = "rule " + routes->cfg().rules[ri].name + " selects the event for target " +
                        target + ", which neither received nor dead-lettered it";
            miss.where = "target " + target;
            emit(std::move(miss));
          }
        }
        return;
      }
      if (eventsPending || eventsOnTheirWay.count(a.eventId)) {
        count("event_on_its_way");
        return;
      }
      d.kind = "event_missing_from_lake";
      d.what = "the applied change's event is in no lake object";
      d.where = opts.lakePrefix;
      emit(std::move(d));
    };

    switch (lo.outcome) {
      case MessageOutcome::kSkipped: count("tombstone"); return Status::ok();
      case MessageOutcome::kRejected:
        if (auto a = applied.find(id); a != applied.end()) {  // redriven and applied since
          appliedCheck(a->second);
        } else if (ingestDlq->count(id)) {
          count("rejected");
        } else if (*changesPending) {
          count("in_flight");  // redriven: on its way through the changes queue
        } else {
          d.kind = "rejected_not_in_dlq";
          d.what = "ledgered as rejected (" + lo.reason + "), but not on the ingest DLQ";
          d.where = "ingest DLQ";
          emit(std::move(d));
        }
        return Status::ok();
      case MessageOutcome::kEnqueued:
        if (auto a = applied.find(id); a != applied.end()) {
          appliedCheck(a->second);
        } else if (auto o = outcomes.find(id); o != outcomes.end()) {
          count(o->second);  // stale, noop, not_found
        } else if (changesDead->count(id)) {
          count("dead_lettered");
        } else if (heldForParked.count(id)) {
          count("parked");
        } else if (*changesPending) {
          count("in_flight");
        } else {
          d.kind = "not_applied";
          d.what =
              "enqueued, but no history row, no write outcome, and not on the changes queue or "
              "its DLQ";
          d.where = "member store history";
          emit(std::move(d));
        }
        return Status::ok();
      case MessageOutcome::kPending: break;
    }
    return Status::ok();
  };

  for (const auto& [p, range] : *ranges) {
    if (opts.partition && p != *opts.partition) continue;
    int64_t from = range.low, to = range.high;  // [from, to)
    if (opts.fromOffset) from = std::max(from, *opts.fromOffset);
    if (opts.toOffset) to = std::min(to, *opts.toOffset + 1);
    if (opts.fromMs) {
      auto o = source_.offsetForTime(p, *opts.fromMs);
      if (!o.isOk()) return o.status();
      from = std::max(from, *o);
    }
    if (opts.toMs) {
      auto o = source_.offsetForTime(p, *opts.toMs + 1);
      if (!o.isOk()) return o.status();
      to = std::min(to, *o);
    }
    if (from >= to) continue;
    // Past the ingest group's commit a record may not have been ingested yet: in flight.
    int64_t settled = std::clamp(range.committed, from, to);
    if (to > settled) report.outcomes["not_ingested"] += to - settled;
    for (int64_t next = from; next < settled;) {
      auto batch = source_.read(p, next, settled, opts.batch);
      if (!batch.isOk()) return batch.status();
      if (batch->empty()) break;  // compacted away or retention: nothing more to read
      std::vector<std::string> ids;
      ids.reserve(batch->size());
      for (const auto& r : *batch) ids.push_back(messageIdOf(r));
      auto entries = ledger_.getMany(ids);
      if (!entries.isOk()) return entries.status();
      for (size_t i = 0; i < batch->size(); ++i)
        MF_RETURN_IF_ERROR(account((*batch)[i], ids[i], (*entries)[i]));
      next = batch->back().offset + 1;
    }
  }
  report.archiveObjectsRead = archive.read();

  // 5. Across the lake: no event twice, none without the change that made it.
  for (const auto& [id, l] : lake) {
    if (l.lines > 1) {
      emit({"event_duplicate_in_lake",
            {},
            {},
            {},
            {},
            id,
            "the event is in the lake " + std::to_string(l.lines) + " times: once expected",
            lakeKeys[l.firstKey] + (l.otherKey == UINT32_MAX || l.otherKey == l.firstKey
                                        ? ""
                                        : ", " + lakeKeys[l.otherKey])});
    }
    if (!l.inHistory) {
      emit({"lake_event_without_history",
            {},
            {},
            {},
            {},
            id,
            "the lake holds an event no history row wrote",
            lakeKeys[l.firstKey]});
    }
  }
  return report;
}

}  // namespace memberflow
