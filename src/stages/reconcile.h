// File: reconcile.h
// `memberflow reconcile` (DESIGN.md §4 guarantee 7, issue 18): joins what every stage recorded,
// by ids, and names each gap. For the source records in range:
//   - each is accounted for exactly once: applied, noop, stale, not_found (a delete of an
//     unknown member), duplicate (another record holds its message id), erased (`memberflow
//     erase` replaced its archived line by a redaction marker), tombstone, rejected
//     (with its ingest-DLQ entry), dead-lettered (on the changes DLQ), parked (held for its
//     parked member in the parking store), or in flight (not yet
//     ingested: at or past the ingest group's committed offset; or not applied yet while the
//     changes queue holds work);
//   - its ledger entry names an archive object that exists and holds this very record (the
//     archived line equals the record's line) at the stated line;
//   - an applied one has exactly one history row, and its event is in the lake exactly once
//     (or on its way: in the outbox or a staged lake object, or not found while the route or
//     lake queue holds work);
//   - with targets memberflow delivers itself (the embedded bus), its event reached every
//     target whose rule matches it (the delivery log), or sits in that target's DLQ. Which
//     rules match is decided by the bus's own matcher (RuleSet) on the event as the bus saw it,
//     following bus targets to the rules of the next bus.
// Across the whole lake: every event has a history row, and none is there twice.
// The DLQs are read; the working queues are only counted (on SQS a read is a receive, which
// would spend a running pipeline's attempts). So the verdict is definite on a drained
// pipeline; on a busy one, what is not found yet is counted as on its way, not reported.
// Everything is read through the ports, in pages: the same code reconciles both modes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "common/status.h"
#include "domain/routing.h"
#include "ports/change_source.h"
#include "ports/delivery_log.h"
#include "ports/lake_journal.h"
#include "ports/ledger.h"
#include "ports/member_store.h"
#include "ports/object_store.h"
#include "ports/parking.h"
#include "ports/queue.h"

namespace memberflow {

struct ReconcileOptions {
  std::optional<int32_t> partition;
  std::optional<int64_t> fromOffset, toOffset;  // inclusive
  std::optional<int64_t> fromMs, toMs;          // record timestamps, inclusive
  size_t batch = 1000;                          // records read and looked up at once
  std::string lakePrefix = "lake/";
  // Ledger entries expire: a record older than this (by its timestamp) without an entry is
  // beyond the ledger's retention, not missing. 0: never.
  int64_t ledgerTtlMs = 0;
  int64_t nowMs = 0;
};

// One gap: which record or event, what is missing or wrong, and where it should be.
struct Discrepancy {
  std::string kind;  // a stable code, e.g. "no_ledger_entry", "event_missing_from_lake"
  std::optional<int32_t> partition;
  std::optional<int64_t> offset;
  std::string messageId;
  std::string memberId;
  std::string eventId;
  std::string what;   // for an operator; ids only, never member data
  std::string where;  // the store, queue or object it should be in
};

// The deliveries to check: the rules, the log, and each target's queue (counted) and DLQ
// (read). Without it (EventBridge delivers) deliveries are not checked.
struct ReconcileDeliveries {
  const RoutingConfig* routing = nullptr;
  DeliveryLog* log = nullptr;
  std::function<Queue*(const std::string&target)> queue, dlq;
};

struct ReconcileReport {
  int64_t records = 0;                      // source records examined
  std::map<std::string, int64_t> outcomes;  // by what became of them
  int64_t historyRows = 0;
  int64_t lakeObjects = 0;
  int64_t lakeEvents = 0;
  int64_t archiveObjectsRead = 0;
  bool deliveriesChecked = false;
  std::map<std::string, int64_t> deliveries;  // delivered, dead_lettered, on_its_way
  int64_t discrepancies = 0;
  bool complete() const { return discrepancies == 0; }
};

// The queues that account for records and events: the DLQs are read, the others counted. Any
// may be null (not checked).
struct ReconcileQueues {
  Queue* changes = nullptr;
  Queue* changesDlq = nullptr;
  Queue* ingestDlq = nullptr;
  Queue* route = nullptr;
  Queue* lake = nullptr;
  ParkingStore* parking = nullptr;  // changes held for parked members are accounted as parked
};

class Reconciler {
 public:
  using Sink = std::function<void(const Discrepancy&)>;
  Reconciler(SourceReader& source, Ledger& ledger, MemberStore& members, ObjectStore& objects,
             LakeJournal* journal, ReconcileQueues queues, ReconcileDeliveries deliveries = {})
      : source_(source),
        ledger_(ledger),
        members_(members),
        objects_(objects),
        journal_(journal),
        queues_(queues),
        deliveries_(std::move(deliveries)) {}

  // Walks everything once; each discrepancy goes to `sink` as it is found. A port that fails
  // fails the run (its status): an incomplete walk proves nothing.
  Result<ReconcileReport> run(const ReconcileOptions& opts, const Sink& sink);

 private:
  SourceReader& source_;
  Ledger& ledger_;
  MemberStore& members_;
  ObjectStore& objects_;
  LakeJournal* journal_;
  ReconcileQueues queues_;
  ReconcileDeliveries deliveries_;
};

}  // namespace memberflow
