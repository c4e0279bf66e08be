#include "cli/operator_wiring.h"

#include "adapters/embedded/embedded_event_bus.h"
#include "common/text.h"

namespace memberflow::cli {

Result<ChangeSource*> WiringOperatorPorts::source() {
  MF_RETURN_IF_ERROR(w_.openSource(/*observe=*/true));
  return &w_.source();
}

Result<SourceReader*> WiringOperatorPorts::reader() {
  MF_RETURN_IF_ERROR(w_.openReader());
  return &w_.reader();
}

Result<MemberStore*> WiringOperatorPorts::members() {
  MF_RETURN_IF_ERROR(w_.openMembers());
  return &w_.members();
}

Result<ParkingStore*> WiringOperatorPorts::parking() {
  MF_RETURN_IF_ERROR(w_.openParking(createParking_));
  return &w_.parking();
}

Result<Ledger*> WiringOperatorPorts::ledger() {
  MF_RETURN_IF_ERROR(w_.openLedger());
  return &w_.ledger();
}

Result<ObjectStore*> WiringOperatorPorts::objects() {
  MF_RETURN_IF_ERROR(w_.openObjects());
  return &w_.objects();
}

Result<DeliveryLog*> WiringOperatorPorts::deliveries() {
  MF_RETURN_IF_ERROR(w_.openDeliveryLog());
  return &w_.deliveryLog();
}

Result<LakeJournal*> WiringOperatorPorts::lakeJournal() {
  MF_RETURN_IF_ERROR(w_.openLake());
  return &w_.lakeJournal();
}

Result<const RoutingConfig*> WiringOperatorPorts::routing() {
  MF_RETURN_IF_ERROR(w_.openRouting());
  return &w_.routing();
}

Result<std::vector<Queue*>> WiringOperatorPorts::allQueues() {
  MF_RETURN_IF_ERROR(w_.openQueues());
  MF_RETURN_IF_ERROR(w_.openRouting());
  std::vector<Queue*> all{&w_.changes(),  &w_.changesDlq(), &w_.ingestDlq(), &w_.routeQueue(),
                          &w_.routeDlq(), &w_.lakeQueue(),  &w_.lakeDlq()};
  for (const auto& t : w_.deliveredTargets()) {
    all.push_back(w_.queueNamed(embedded::targetQueueName(t.name)));
    all.push_back(w_.queueNamed(embedded::targetDlqName(t.name)));
  }
  for (const auto& q : splitList(w_.config().topicExtraSubscriptions))
    all.push_back(w_.queueNamed(q));
  for (Queue* q : all)
    if (!q) return Status::unavailable("a queue cannot be opened");
  return all;
}

Result<std::vector<std::string>> WiringOperatorPorts::dlqNames() {
  MF_RETURN_IF_ERROR(w_.openQueues());
  MF_RETURN_IF_ERROR(w_.openRouting());
  std::vector<std::string> names{"ingest", "changes", "route", "lake"};
  for (const auto& t : w_.deliveredTargets()) names.push_back("target-" + t.name);
  return names;
}

Result<Queue*> WiringOperatorPorts::dlq(const std::string& name) {
  MF_RETURN_IF_ERROR(w_.openQueues());
  Queue* q = w_.dlqNamed(name);
  if (!q)
    return Status::invalidArgument("no DLQ named " + name +
                                   " (ingest, changes, route, lake or target-<name>)");
  return q;
}

Result<Queue*> WiringOperatorPorts::changes() {
  MF_RETURN_IF_ERROR(w_.openQueues());
  return &w_.changes();
}

Result<Queue*> WiringOperatorPorts::queueOf(Queue& dlq) {
  MF_RETURN_IF_ERROR(w_.openQueues());
  const std::string& dn = dlq.name();
  Queue* back = dn.size() > 4 ? w_.queueNamed(dn.substr(0, dn.size() - 4)) : nullptr;
  if (!back) return Status::unavailable("cannot open the queue that " + dn + " belongs to");
  return back;
}

Result<IngestStage*> WiringOperatorPorts::ingest() {
  if (!ingest_) {
    MF_RETURN_IF_ERROR(w_.openIngestSide(/*observe=*/true));
    ingest_ = std::make_unique<IngestStage>(w_.source(), w_.objects(), w_.ledger(), w_.changes(),
                                            w_.ingestDlq(), w_.clock(), w_.ingestOptions());
  }
  return ingest_.get();
}

}  // namespace memberflow::cli
