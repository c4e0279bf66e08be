// `memberflow reconcile`: proves that every source record in range is accounted for, and names
// each gap (stages/reconcile.h). Each discrepancy is a JSON line on stdout, the summary the last
// line. Exit 0 when complete, 1 when not, 2 when the walk could not be done.
#include "stages/reconcile.h"

#include <iostream>

#include "adapters/embedded/embedded_event_bus.h"
#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/wiring.h"
#include "common/json.h"

namespace memberflow::cli {

int reconcileCommand(const Config& cfg, const ReconcileOptions& given) {
  applyLogLevel(cfg);
  Wiring w(cfg);
  for (Status s : {w.openReader(), w.openLedger(), w.openQueues(), w.openMembers(), w.openLake()}) {
    if (!s.isOk()) {
      fail(s);
      return 2;
    }
  }
  ReconcileOptions opts = given;
  opts.ledgerTtlMs = cfg.ledgerTtlHours * 3600 * 1000;
  opts.nowMs = w.clock().nowMs();
  if (Status s = w.openParking(); !s.isOk()) {
    fail(s);
    return 2;
  }
  ReconcileQueues queues{&w.changes(),    &w.changesDlq(), &w.ingestDlq(),
                         &w.routeQueue(), &w.lakeQueue(),  &w.parking()};
  // Deliveries are checked where memberflow delivers (the embedded bus): EventBridge keeps no
  // record of its deliveries that memberflow could read.
  ReconcileDeliveries deliveries;
  if (Status s = w.openRouting(); !s.isOk()) {
    fail(s);
    return 2;
  }
  if (!w.deliveredTargets().empty()) {
    if (Status s = w.openDeliveryLog(); !s.isOk()) {
      fail(s);
      return 2;
    }
    deliveries.routing = &w.routing();
    deliveries.log = &w.deliveryLog();
    deliveries.queue = [&w](const std::string& t) {
      return w.queueNamed(embedded::targetQueueName(t));
    };
    deliveries.dlq = [&w](const std::string& t) {
      return w.queueNamed(embedded::targetDlqName(t));
    };
  }
  Reconciler reconciler(w.reader(), w.ledger(), w.members(), w.objects(), &w.lakeJournal(), queues,
                        std::move(deliveries));
  auto report = reconciler.run(opts, [](const Discrepancy& d) {
    json::object o{{"discrepancy", d.kind}};
    if (d.partition) o["partition"] = *d.partition;
    if (d.offset) o["offset"] = *d.offset;
    if (!d.messageId.empty()) o["messageId"] = d.messageId;
    if (!d.memberId.empty()) o["memberId"] = d.memberId;
    if (!d.eventId.empty()) o["eventId"] = d.eventId;
    o["what"] = d.what;
    o["where"] = d.where;
    std::cout << json::serialize(o) << "\n";
  });
  if (!report.isOk()) {
    fail(report.status());
    return 2;
  }
  json::object outcomes;
  for (const auto& [k, n] : report->outcomes) outcomes[k] = n;
  json::object delivered;
  for (const auto& [k, n] : report->deliveries) delivered[k] = n;
  json::object summary{{"complete", report->complete()},
                       {"records", report->records},
                       {"outcomes", std::move(outcomes)},
                       {"historyRows", report->historyRows},
                       {"lakeObjects", report->lakeObjects},
                       {"lakeEvents", report->lakeEvents},
                       {"archiveObjectsRead", report->archiveObjectsRead},
                       {"deliveriesChecked", report->deliveriesChecked},
                       {"deliveries", std::move(delivered)},
                       {"discrepancies", report->discrepancies}};
  std::cout << json::serialize(json::object{{"summary", std::move(summary)}}) << std::endl;
  return report->complete() ? 0 : 1;
}

}  // namespace memberflow::cli
