// `memberflow demo`: generates a stream, produces it, runs ingest, sync and the API until idle,
// and shows the result and how to query it.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/line_producer.h"
#include "cli/signals.h"
#include "cli/wiring.h"
#include "common/gzip.h"
#include "common/log.h"

namespace memberflow::cli {

int demoCommand(Config cfg, const GeneratorOptions& gen, bool serve) {
  applyLogLevel(cfg);
  installSignals();
  cfg.dataDir += "/demo";
  std::error_code ec;
  std::filesystem::remove_all(cfg.dataDir, ec);
  Wiring w(cfg);
  std::cerr << "== memberflow demo: " << gen.count << " generated changes of " << gen.members
            << " members (seed " << gen.seed << "), data in " << cfg.dataDir << "\n";
  if (Status s = w.openSink(); !s.isOk()) return fail(s);
  LineProducer producer(w.sink());
  Status added;
  generateRecords(gen, [&](std::string l) {
    if (added.isOk()) added = producer.add(l);
  });
  if (added.isOk()) added = producer.finish();
  if (!added.isOk()) return fail(added);
  int64_t produced = producer.produced();
  std::cerr << "== produced " << produced << " raw records; running ingest, sync and api\n";
  auto started = std::chrono::steady_clock::now();
  RunOptions ro;
  ro.untilIdle = true;
  // Keep the demo's own output readable: stage logs only for warnings.
  if (cfg.logLevel == log::Level::kInfo) log::setLevel(log::Level::kError);
  int rc = runStages(w, ro, true);
  if (rc != 0) return rc;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto ing = w.ingestDlq().stats();
  auto chg = w.changesDlq().stats();
  auto page = w.members().listUpdated(0, "", 1000000);
  int64_t lakeEvents = 0, lakeObjects = 0;
  if (w.openObjects().isOk()) {
    auto keys = w.objects().list("lake/");
    for (const auto& k : keys.isOk() ? *keys : std::vector<std::string>{}) {
      auto text = w.objects().get(k);
      if (!text.isOk()) continue;
      auto plain = gzipDecompress(*text);
      if (!plain.isOk()) continue;
      ++lakeObjects;
      lakeEvents += std::count(plain->begin(), plain->end(), '\n');
    }
  }
  std::cout << "\nprocessed " << produced << " records in " << secs << " s\n";
  std::cout << "  live members:        " << (page.isOk() ? page->members.size() : 0) << "\n";
  std::cout << "  member events:       " << lakeEvents << " in the data lake (" << lakeObjects
            << " objects under " << cfg.dataDir << "/objects/lake/)\n";
  std::cout << "  rejected (ingest DLQ): " << (ing.isOk() ? ing->visible : 0) << "\n";
  std::cout << "  failed (changes DLQ):  " << (chg.isOk() ? chg->visible : 0) << "\n";
  if (page.isOk() && !page->members.empty()) {
    const auto& m = page->members.front();
    std::cout << "\nexample member " << m.member.memberId << " (version " << m.version << ")\n";
  }
  std::string example = page.isOk() && !page->members.empty()
                            ? page->members.front().member.memberId
                            : std::string("M0000001");
  std::string dd = " --data-dir " + cfg.dataDir;
  std::cout << "\nquery the API:\n"
            << "  build/memberflow" << dd << " api &\n"
            << "  TOKEN=$(build/memberflow" << dd << " token --scope member:read)\n"
            << "  curl -s -H \"Authorization: Bearer $TOKEN\" " << cfg.apiUrl() << "/member/"
            << example << "\n"
            << "  build/memberflow" << dd << " dlq list --queue ingest\n"
            << "\nthe operator console (docs/console.md), while the API runs:\n"
            << "  " << cfg.apiUrl() << "/console  (client memberflow-operator, secret in "
            << cfg.path("secrets/" + cfg.authOperatorClientSecret) << ")\n";
  if (serve) {
    std::cerr << "== serving the API on " << cfg.apiUrl() << " until Ctrl-C\n";
    resetStopSignal();
    RunOptions api;
    api.stages = {"api"};
    return runStages(w, api);
  }
  return 0;
}

}  // namespace memberflow::cli
