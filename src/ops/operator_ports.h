// File: operator_ports.h
// What an operator's actions reach — `memberflow status`, `dlq list|redrive`, `park release`
// and the console's endpoints (console/) — as one interface, so that the CLI and the console
// run the same functions (ops/pipeline_status.h, ops/dlq_work.h) over the same ports. The CLI's
// composition root implements it over its Wiring (cli/operator_wiring.h); each call opens what
// it needs on first use.
//
// Not thread-safe: callers serialize their calls (the console holds one lock around each).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "domain/routing.h"
#include "ports/change_source.h"
#include "ports/clock.h"
#include "ports/delivery_log.h"
#include "ports/lake_journal.h"
#include "ports/ledger.h"
#include "ports/member_store.h"
#include "ports/object_store.h"
#include "ports/parking.h"
#include "ports/queue.h"
#include "stages/ingest.h"

namespace memberflow::ops {

// The DLQs by the names an operator types (`memberflow dlq --queue`).
inline constexpr const char* kIngestDlqName = "ingest";
inline constexpr const char* kChangesDlqName = "changes";

class OperatorPorts {
 public:
  virtual ~OperatorPorts() = default;
  virtual Clock& clock() = 0;
  // The change topic's name.
  virtual std::string topic() const = 0;
  // The source, observing only (never joining the consumer group).
  virtual Result<ChangeSource*> source() = 0;
  // The source read by offset (the console's lineage lookup).
  virtual Result<SourceReader*> reader() = 0;
  virtual Result<MemberStore*> members() = 0;
  // Unavailable when the parking store cannot be opened (an API role that may not create it).
  virtual Result<ParkingStore*> parking() = 0;
  virtual Result<Ledger*> ledger() = 0;
  virtual Result<ObjectStore*> objects() = 0;
  virtual Result<DeliveryLog*> deliveries() = 0;
  virtual Result<LakeJournal*> lakeJournal() = 0;
  virtual Result<const RoutingConfig*> routing() = 0;
  // Every queue `status` shows, working queues and DLQs, in a stable order.
  virtual Result<std::vector<Queue*>> allQueues() = 0;
  // The operator names of every DLQ: ingest, changes, route, lake, target-<name>...
  virtual Result<std::vector<std::string>> dlqNames() = 0;
  // A DLQ by operator name (ingest, changes or sync, route, lake, target-<t>, or its queue
  // name). InvalidArgument: no such DLQ.
  virtual Result<Queue*> dlq(const std::string& name) = 0;
  // The changes queue (where a redriven dead change goes back).
  virtual Result<Queue*> changes() = 0;
  // The working queue a DLQ belongs to ("<name>-dlq" -> "<name>").
  virtual Result<Queue*> queueOf(Queue& dlq) = 0;
  // Ingest over these ports, for the ingest DLQ's redrive (which re-validates each record).
  virtual Result<IngestStage*> ingest() = 0;
};

}  // namespace memberflow::ops
