// `memberflow replay`: re-drives records from the raw archive through ingest (not archived
// again), deduplicated by the ledger like any record.
#include <iostream>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/wiring.h"
#include "common/gzip.h"
#include "common/json.h"
#include "common/time.h"
#include "stages/ingest.h"

namespace memberflow::cli {

int replayCommand(const Config& cfg, const ReplayOptions& o) {
  applyLogLevel(cfg);
  Wiring w(cfg);
  if (Status s = w.openIngestSide(/*observe=*/true); !s.isOk()) return fail(s);
  IngestStage ingest(w.source(), w.objects(), w.ledger(), w.changes(), w.ingestDlq(), w.clock(),
                     w.ingestOptions());
  auto keys = w.objects().list("raw/" + cfg.topic + "/");
  if (!keys.isOk()) return fail(keys.status());
  std::string sinceDate = o.sinceMs ? utcDate(*o.sinceMs) : "";
  std::string untilDate = o.untilMs ? utcDate(*o.untilMs) : "";
  Progress progress("replayed");
  int64_t scanned = 0, selected = 0, enqueued = 0, duplicates = 0, rejected = 0, skipped = 0;
  std::vector<SourceRecord> batch;
  std::vector<Lineage> lineage;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::ok();
    auto rep = ingest.process(batch, &lineage);
    if (!rep.isOk()) return rep.status();
    enqueued += static_cast<int64_t>(rep->enqueued);
    duplicates += static_cast<int64_t>(rep->duplicates);
    rejected += static_cast<int64_t>(rep->rejected);
    skipped += static_cast<int64_t>(rep->skipped);
    batch.clear();
    lineage.clear();
    progress.update(selected);
    return Status::ok();
  };
  for (const auto& key : *keys) {
    // raw/<topic>/dt=YYYY-MM-DD/p=<P>/<first>-<last>.ndjson.gz: skip objects out of range.
    auto dt = key.find("/dt="), pp = key.find("/p="), dash = key.rfind('-'), slash = key.rfind('/');
    if (dt == std::string::npos || pp == std::string::npos || dash == std::string::npos) continue;
    std::string date = key.substr(dt + 4, 10);
    if ((!sinceDate.empty() && date < sinceDate) || (!untilDate.empty() && date > untilDate))
      continue;
    int32_t part = static_cast<int32_t>(std::atol(key.c_str() + pp + 3));
    int64_t first = std::atoll(key.c_str() + slash + 1), last = std::atoll(key.c_str() + dash + 1);
    if (o.partition && part != *o.partition) continue;
    if ((o.fromOffset && last < *o.fromOffset) || (o.toOffset && first > *o.toOffset)) continue;
    auto data = w.objects().get(key);
    if (!data.isOk()) return fail(data.status());
    auto text = gzipDecompress(*data);
    if (!text.isOk()) return fail(Status::internal("archive object " + key + " is corrupt"));
    int64_t lineNo = 0;
    for (size_t p = 0, n; (n = text->find('\n', p)) != std::string::npos; p = n + 1) {
      ++lineNo;
      ++scanned;
      auto v = parseJson(std::string_view(*text).substr(p, n - p));
      if (!v.isOk() || !v->is_object()) continue;
      auto r = recordFromArchiveLine(v->get_object(), cfg.topic);
      if (!r) continue;
      if ((o.partition && r->partition != *o.partition) ||
          (o.fromOffset && r->offset < *o.fromOffset) || (o.toOffset && r->offset > *o.toOffset) ||
          (o.sinceMs && r->timestampMs < *o.sinceMs) ||
          (o.untilMs && r->timestampMs > *o.untilMs)) {
        continue;
      }
      ++selected;
      lineage.push_back({cfg.topic, r->partition, r->offset, key, lineNo});
      batch.push_back(std::move(*r));
      if (batch.size() >= 500) {
        if (Status s = flush(); !s.isOk()) return fail(s);
      }
    }
  }
  if (Status s = flush(); !s.isOk()) return fail(s);
  progress.update(selected, true);
  std::cout << json::serialize(json::object{{"scanned", scanned},
                                            {"selected", selected},
                                            {"enqueued", enqueued},
                                            {"duplicates", duplicates},
                                            {"rejected", rejected},
                                            {"skipped", skipped}})
            << "\n";
  return 0;
}

}  // namespace memberflow::cli
