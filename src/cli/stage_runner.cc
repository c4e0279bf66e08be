#include "cli/stage_runner.h"

#include <condition_variable>
#include <iostream>
#include <mutex>

#include "adapters/embedded/embedded_event_bus.h"
#include "cli/api_runner.h"
#include "cli/command_support.h"
#include "cli/signals.h"
#include "cli/supervisor.h"
#include "common/log.h"
#include "common/metrics.h"
#include "stages/ingest.h"
#include "stages/lake.h"
#include "stages/relay.h"
#include "stages/route.h"
#include "stages/sync.h"
#include "stages/target_delivery.h"

namespace memberflow::cli {
namespace {

namespace emb = memberflow::embedded;

// Queue depth and the age of the oldest message of every queue this process opened.
void publishGauges(Wiring& w) {
  auto& m = Metrics::instance();
  for (Queue* q : w.openedQueues()) {
    auto s = q->stats();
    if (!s.isOk()) continue;
    m.queueDepth(q->name()).Set(static_cast<double>(s->visible + s->inFlight));
    m.queueOldestAge(q->name()).Set(
        s->oldestSentAtMs ? static_cast<double>(w.clock().nowMs() - s->oldestSentAtMs) / 1000.0
                          : 0);
  }
}

bool emptyQueue(Queue* q) {
  if (!q) return false;
  auto st = q->stats();
  return st.isOk() && st->visible + st->inFlight == 0;
}

}  // namespace

int runStages(Wiring& w, const RunOptions& opts, bool quietIdle) {
  bool wantIngest = opts.stages.count("ingest") > 0;
  bool wantSync = opts.stages.count("sync") > 0;
  bool wantApi = opts.stages.count("api") > 0;
  bool wantRelay = opts.stages.count("relay") > 0;
  bool wantRoute = opts.stages.count("route") > 0;
  bool wantLake = opts.stages.count("lake") > 0;
  const Config& cfg = w.config();
  w.checkpointInBackground();

  // ---- 1. open what the chosen stages use; nothing runs yet -------------------------------
  OpeningPhase opening;
  if (stopSignal()) return 0;
  if (wantSync && cfg.authTokenUrl.empty() && cfg.externalIssuer()) {
    return fail(
        Status::invalidArgument("auth.token_url is required for sync with an external issuer"));
  }
  if (wantIngest) {
    if (Status s = w.openIngestSide(); !s.isOk()) return fail(s);
  }
  if (Status s = w.openQueues(); !s.isOk()) return fail(s);
  if (wantApi || wantRelay) {
    if (Status s = w.openMembers(); !s.isOk()) return fail(s);
  }
  if (wantRoute) {
    if (Status s = w.openRouting(); !s.isOk()) return fail(s);
  }
  if (wantLake) {
    if (Status s = w.openLake(); !s.isOk()) return fail(s);
  }
  ApiRunner api;
  if (wantApi) {
    if (Status s = api.start(w); !s.isOk()) return fail(s);    // listens from here on
    if (cfg.apiPort == 0) w.useApiPort(api.server()->port());  // sync calls this server
  }
  opening.end();

  // ---- 2. the stages, declared before the supervisor so that they outlive its threads -----
  std::unique_ptr<IngestStage> ingest;
  std::unique_ptr<TokenProvider> tokens;
  std::unique_ptr<SyncStage> sync;
  int64_t syncLoops = 0;
  std::unique_ptr<RelayStage> relay;
  std::unique_ptr<RouteStage> route;
  std::vector<std::unique_ptr<TargetDelivery>> deliveries;
  std::unique_ptr<LakeStage> lake;
  if (wantIngest) {
    ingest = std::make_unique<IngestStage>(w.source(), w.objects(), w.ledger(), w.changes(),
                                           w.ingestDlq(), w.clock(), w.ingestOptions());
  }
  if (wantSync) {
    tokens = w.syncTokens();
    if (Status s = w.openParking(); !s.isOk()) return fail(s);
    SyncOptions so = w.syncOptions();
    // Several loops only where the FIFO hold on a batch's members (the visibility timeout)
    // outlasts every change a loop starts: none starts later than the visibility less a
    // request's timeout and a margin (SyncOptions::startWithinMs).
    constexpr int64_t kMarginMs = 2000;
    int64_t startWithin = cfg.syncVisibilityMs - cfg.syncTimeoutMs - kMarginMs;
    syncLoops = cfg.syncConsumers;
    if (syncLoops > 1 && startWithin < 1000) {
      log::info("one sync consumer: sync.visibility_ms must exceed sync.timeout_ms by 3 s for more",
                {"sync"});
      syncLoops = 1;
    }
    if (syncLoops > 1) so.startWithinMs = startWithin;
    sync = std::make_unique<SyncStage>(w.changes(), w.changesDlq(), w.http(), *tokens, w.clock(),
                                       so, &w.parking());
  }
  if (wantRelay)
    relay = std::make_unique<RelayStage>(w.members(), w.topic(), w.clock(), RelayOptions{});
  if (wantRoute) {
    route = std::make_unique<RouteStage>(w.routeQueue(), w.routeDlq(), *w.bus("default"), w.clock(),
                                         w.routeOptions());
    if (!w.deliveredTargets().empty()) {
      if (Status s = w.openDeliveryLog(); !s.isOk()) return fail(s);
    }
    for (const auto& t : w.deliveredTargets()) {
      Queue* in = w.queueNamed(emb::targetQueueName(t.name));
      Queue* dlq = w.queueNamed(emb::targetDlqName(t.name));
      if (!in || !dlq)
        return fail(Status::unavailable("cannot open the queues of target " + t.name));
      // A queue target's queue opened here, before the threads start: queueNamed() adds to the
      // wiring's map on first use, which the delivery threads and the gauges must not race on.
      if (t.kind == TargetConfig::Kind::kQueue) (void)w.queueNamed(t.queue);
      TargetDeliveryOptions tdo;
      tdo.backoff = BackoffPolicy{cfg.syncBackoffBaseMs, cfg.syncBackoffCapMs, t.maxAttempts};
      tdo.visibilityMs = cfg.busVisibilityMs;
      tdo.concurrency = static_cast<int>(cfg.busDeliveryConcurrency);
      deliveries.push_back(std::make_unique<TargetDelivery>(
          t, *in, *dlq, w.http(), w.secrets(), [&w](const std::string& n) { return w.bus(n); },
          [&w](const std::string& n) { return w.queueNamed(n); }, w.clock(), tdo,
          &w.deliveryLog()));
    }
  }
  if (wantLake) {
    lake = std::make_unique<LakeStage>(w.lakeQueue(), w.lakeDlq(), w.objects(), w.lakeJournal(),
                                       w.clock(), w.lakeOptions());
  }

  // ---- 3. run them under the supervisor ----------------------------------------------------
  StageSupervisor::Options so;
  so.shutdownDeadline = std::chrono::milliseconds(cfg.shutdownTimeoutMs);
  // An SNS publish or an EventBridge put reaches its SQS queues a moment later, unseen by the
  // idle probe meanwhile, and SQS counts are approximate: their idle answers stay a tick apart.
  if (cfg.queueAdapter == QueueAdapter::kSqs || cfg.topicAdapter == TopicAdapter::kSns ||
      cfg.eventBusAdapter == EventBusAdapter::kEventBridge) {
    so.idleConfirmTick = so.tick;
  }
  StageSupervisor supervisor(so);
  if (api::HttpServer* server = api.server()) {
    supervisor.start("api", [server](std::stop_token t) {
      std::mutex m;
      std::condition_variable_any cv;
      std::unique_lock lock(m);
      cv.wait(lock, t, [] { return false; });  // until stop is requested
      server->stop();
    });
  }
  if (ingest) supervisor.start("ingest", [&](std::stop_token t) { ingest->run(t); });
  // Several receive loops share the one SyncStage (its process() is safe to call at once);
  // the FIFO changes queue never hands two of them changes of the same member at a time.
  for (int64_t i = 0; sync && i < syncLoops; ++i) {
    supervisor.start(i == 0 ? "sync" : "sync-" + std::to_string(i + 1),
                     [&](std::stop_token t) { sync->run(t); });
  }
  if (relay) supervisor.start("relay", [&](std::stop_token t) { relay->run(t); });
  if (route) supervisor.start("route", [&](std::stop_token t) { route->run(t); });
  for (auto& d : deliveries) {
    supervisor.start("target-" + d->name(), [dp = d.get()](std::stop_token t) { dp->run(t); });
  }
  if (lake) supervisor.start("lake", [&](std::stop_token t) { lake->run(t); });

  // Idle for the stages that run: ingest has consumed the source, sync has drained the changes
  // queue, relay the outbox, route and lake their queues.
  std::function<bool()> idle;
  if (opts.untilIdle) {
    idle = [&] {
      if (wantIngest) {
        auto p = w.source().progress();
        if (!p.isOk() || p->lag() != 0) return false;
      }
      if (wantSync && !emptyQueue(&w.changes())) return false;
      if (wantRelay) {
        auto ob = w.members().outbox(1);
        if (!ob.isOk() || !ob->empty()) return false;
      }
      if (wantRoute) {
        if (!emptyQueue(&w.routeQueue())) return false;
        for (const auto& t : w.deliveredTargets()) {
          if (!emptyQueue(w.queueNamed(emb::targetQueueName(t.name)))) return false;
        }
      }
      return !wantLake || emptyQueue(&w.lakeQueue());
    };
  }
  auto ended = supervisor.supervise(stopSignal(), idle, [&w] { publishGauges(w); });
  if (ended == StageSupervisor::Ended::kStageFailed) {
    log::error("a stage failed, stopping the others",
               {supervisor.failedStage(), {}, {}, {}, "failed", supervisor.failure()});
  } else if (!quietIdle || ended == StageSupervisor::Ended::kSignal) {
    log::info("shutting down", {"run"});
  }
  // In-flight batches finish and commit; a stage blocked in a dependency past the deadline is
  // abandoned: what it had not committed is redone after a restart, as after kill -9.
  auto stuck = supervisor.stopAndJoin();
  if (!stuck.empty()) {
    std::string names;
    for (const auto& n : stuck) names += (names.empty() ? "" : ",") + n;
    log::error("shutdown deadline passed, exiting without waiting for these stages",
               {"run", {}, {}, {}, "abandoned", names});
    std::cerr.flush();
    std::_Exit(1);
  }
  if (ended == StageSupervisor::Ended::kStageFailed) {
    return fail(
        Status::internal("stage " + supervisor.failedStage() + " failed: " + supervisor.failure()));
  }
  return 0;
}

}  // namespace memberflow::cli
