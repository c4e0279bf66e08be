// `memberflow dlq list` and `memberflow dlq redrive`.
#include <iostream>
#include <unordered_set>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/wiring.h"
#include "common/json.h"
#include "common/time.h"
#include "stages/ingest.h"

namespace memberflow::cli {

int dlqListCommand(const Config& cfg, const std::string& queue, size_t limit, bool withBody) {
  Wiring w(cfg);
  if (Status s = w.openQueues(); !s.isOk()) return fail(s);
  Queue* q = w.dlqNamed(queue);
  if (!q)
    return fail(Status::invalidArgument("no DLQ named " + queue +
                                        " (ingest, changes, route, lake or target-<name>)"));
  auto msgs = q->peek(limit);
  if (!msgs.isOk()) return fail(msgs.status());
  printMessages(q->name(), *msgs, withBody);
  return 0;
}

// The ingest DLQ re-validates each rejected record (ingest's own redrive) and enqueues the ones
// valid now, keeping the others; every other DLQ sends its messages back to the queue they came
// from ("<name>-dlq" -> "<name>").
int dlqRedriveCommand(const Config& cfg, const std::string& queue) {
  applyLogLevel(cfg);
  Wiring w(cfg);
  if (Status s = w.openIngestSide(/*observe=*/true); !s.isOk()) return fail(s);
  Queue* q = w.dlqNamed(queue);
  if (!q)
    return fail(Status::invalidArgument("no DLQ named " + queue +
                                        " (ingest, changes, route, lake or target-<name>)"));
  auto st = q->stats();
  if (!st.isOk()) return fail(st.status());
  int64_t total = st->visible, seen = 0, redriven = 0, kept = 0, copies = 0;
  std::unordered_set<std::string> driven;  // dedup ids redriven (or kept) in this run
  IngestStage ingest(w.source(), w.objects(), w.ledger(), w.changes(), w.ingestDlq(), w.clock(),
                     w.ingestOptions());
  Progress progress("redriven");
  std::vector<std::string> keptReceipts;
  Queue* back = nullptr;
  if (q != &w.ingestDlq()) {
    const std::string& dn = q->name();
    back = w.queueNamed(dn.substr(0, dn.size() - 4));
    if (!back) return fail(Status::unavailable("cannot open the queue that " + dn + " belongs to"));
  }
  while (seen < total) {
    auto batch = q->receive(100, 60000, 0);
    if (!batch.isOk()) return fail(batch.status());
    if (batch->empty()) break;
    std::vector<std::string> done;
    for (const auto& m : *batch) {
      ++seen;
      if (!m.dedupId.empty() && !driven.insert(m.dedupId).second) {
        done.push_back(m.receiptHandle);  // a second copy (standard queues deliver at least once)
        ++copies;
        continue;
      }
      Status s;
      if (!back) {
        s = ingest.redrive(m.body);
      } else {
        OutgoingMessage o{m.groupId, m.dedupId + ":redrive:" + m.messageId, m.body, {}};
        s = back->send({o});
      }
      if (s.isOk()) {
        done.push_back(m.receiptHandle);
        ++redriven;
      } else if (s.code() == Code::kFailedPrecondition) {
        keptReceipts.push_back(m.receiptHandle);
        ++kept;
      } else {
        return fail(s);
      }
    }
    if (Status s = q->remove(done); !s.isOk()) return fail(s);
    progress.update(seen);
  }
  for (const auto& r : keptReceipts) (void)q->changeVisibility(r, 0);
  progress.update(seen, true);
  std::cout << json::serialize(json::object{{"queue", q->name()},
                                            {"redriven", redriven},
                                            {"kept", kept},
                                            {"copiesDropped", copies}})
            << "\n";
  return 0;
}

}  // namespace memberflow::cli
