// `memberflow erase --member ID [--reason TEXT]`: removes one member's personal data from every
// copy memberflow holds (stages/erase.h). Prints what it removed per store as one JSON line.
// Embedded: the pipeline must be stopped (the SQLite files are scrubbed afterwards, which needs
// them closed). Exit 0 done, 1 refused (working queues hold messages, a store cannot erase),
// 2 a store failed (run it again: it continues where it stopped).
#include "stages/erase.h"

#include <iostream>

#include "adapters/embedded/embedded_event_bus.h"
#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/wiring.h"
#include "common/json.h"

namespace memberflow::cli {

int eraseCommand(const Config& cfg, const std::string& member, const std::string& reason,
                 bool force) {
  applyLogLevel(cfg);
  Result<EraseReport> report = Status::internal("not run");
  {
    Wiring w(cfg);
    for (Status s : {w.openQueues(), w.openMembers(), w.openObjects(), w.openLake(),
                     w.openParking(), w.openRouting()}) {
      if (!s.isOk()) {
        fail(s);
        return 2;
      }
    }
    auto redactor = w.redactor();
    if (!redactor.isOk()) {
      fail(redactor.status());
      return 2;
    }
    EraseTargets t;
    t.members = &w.members();
    t.objects = &w.objects();
    t.journal = &w.lakeJournal();
    t.source = *redactor;
    t.parking = &w.parking();
    t.dlqs = {&w.ingestDlq(), &w.changesDlq(), &w.routeDlq(), &w.lakeDlq()};
    t.working = {&w.changes(), &w.routeQueue(), &w.lakeQueue()};
    for (const auto& target : w.deliveredTargets()) {
      t.dlqs.push_back(w.queueNamed(embedded::targetDlqName(target.name)));
      t.working.push_back(w.queueNamed(embedded::targetQueueName(target.name)));
    }
    EraseOptions opts;
    opts.memberId = member;
    opts.reason = reason;
    opts.nowMs = w.clock().nowMs();
    opts.topic = cfg.topic;
    opts.force = force;
    if (!cfg.kmsKeyId.empty()) opts.kmsKeyId = cfg.kmsKeyId;
    report = Eraser(std::move(t)).run(opts);
  }  // every port closed: the embedded databases can be scrubbed
  if (!report.isOk()) {
    fail(report.status());
    return report.status().code() == Code::kFailedPrecondition ? 1 : 2;
  }
  json::object counts;
  for (const auto& [k, n] : report->counts) counts[k] = n;
  // The SQLite files under data_dir (all of them in embedded mode; the lake journal and the
  // like otherwise): the deleted bytes out of free pages and the WAL.
  auto scrubbed = scrubEmbeddedDatabases(cfg);
  if (!scrubbed.isOk()) {
    fail(scrubbed.status());
    return 2;
  }
  counts["databasesScrubbed"] = *scrubbed;
  json::object out{{"memberId", member},
                   {"known", report->known},
                   {"erasedEventId", report->eventId},
                   {"counts", std::move(counts)}};
  std::cout << json::serialize(out) << std::endl;
  return 0;
}

}  // namespace memberflow::cli
