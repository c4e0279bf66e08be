#include "cli/lambda_runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "adapters/aws/emf.h"
#include "adapters/aws/event_batch_queue.h"
#include "adapters/aws/lambda_events.h"
#include "adapters/aws/lambda_runtime.h"
#include "adapters/aws/mapped_source.h"
#include "adapters/aws/sqs_json.h"
#include "adapters/http/curl_http_client.h"
#include "api/http_api_event.h"
#include "cli/api_runner.h"
#include "cli/command_support.h"
#include "cli/wiring.h"
#include "common/crypto.h"
#include "common/log.h"
#include "stages/ingest.h"
#include "stages/lake.h"
#include "stages/relay.h"
#include "stages/route.h"
#include "stages/sync.h"

namespace memberflow::cli {
namespace {

using aws::Invocation;
using aws::InvocationError;

// What an invocation answers: a response document, or an error.
struct Outcome {
  std::string body;
  std::optional<InvocationError> error;
  std::string summary;  // for the log line: counts only
};

Outcome failed(std::string type, const Status& s) {
  // Status messages of the stages and adapters name ids and coordinates, never content; they
  // are cut short all the same.
  return {{}, InvocationError{std::move(type), s.message().substr(0, 500)}, "error"};
}

class Function {
 public:
  explicit Function(Wiring& w) : w_(w) {}
  virtual ~Function() = default;
  virtual Outcome invoke(const Invocation& inv) = 0;

 protected:
  // Time left before the invocation's deadline is less than the margin: take nothing new.
  bool nearDeadline(const Invocation& inv) const {
    return inv.deadlineMs > 0 &&
           inv.deadlineMs - w_.clock().nowMs() < w_.config().lambdaDeadlineMarginMs;
  }
  Wiring& w_;
};

Result<json::value> parseEvent(const Invocation& inv) {
  auto v = parseJson(inv.body);
  if (!v.isOk()) return Status::invalidArgument("the event is not JSON");
  return v;
}

// ---- ingest: a Kafka event source mapping's records ---------------------------------------
class IngestFunction final : public Function {
 public:
  explicit IngestFunction(Wiring& w)
      : Function(w),
        stage_(source_, w.objects(), w.ledger(), w.changes(), w.ingestDlq(), w.clock(),
               w.ingestOptions()) {}

  Outcome invoke(const Invocation& inv) override {
    auto event = parseEvent(inv);
    if (!event.isOk()) return failed("Function.MalformedEvent", event.status());
    auto parsed = aws::parseKafkaEvent(*event);
    if (!parsed.isOk()) return failed("Function.MalformedEvent", parsed.status());
    std::vector<SourceRecord> records = std::move(parsed).value();
    // The first offset of each partition in this batch: a retry of a batch begins where it did.
    std::map<Partition, int64_t> first;
    for (const auto& r : records) first.try_emplace({r.topic, r.partition}, r.offset);
    // A retry of the batch this instance ran out of time on resumes after the records it did:
    // without this, a batch too big for one invocation would redo its first part every time.
    std::map<Partition, Resume> kept;  // the resume points that belong to this batch
    for (const auto& [p, r] : resume_) {
      if (auto f = first.find(p); f != first.end() && f->second == r.first) kept[p] = r;
    }
    resume_.clear();
    size_t resumed = 0;
    std::erase_if(records, [&](const SourceRecord& r) {
      auto it = kept.find({r.topic, r.partition});
      bool skip = it != kept.end() && r.offset < it->second.doneUpTo;
      resumed += skip ? 1 : 0;
      return skip;
    });
    IngestReport total;
    size_t chunk = std::max<size_t>(1, w_.ingestOptions().maxBatch);
    for (size_t i = 0; i < records.size(); i += chunk) {
      if (nearDeadline(inv)) {
        // Everything before record i is done (chunks run in partition and offset order): a
        // retry of this batch by this instance starts there. The mapping retries the whole
        // batch; another instance would find the done records duplicates in the ledger.
        resume_ = std::move(kept);
        for (size_t j = 0; j < i; ++j) {
          Partition p{records[j].topic, records[j].partition};
          resume_[p] = {first[p], records[j].offset + 1};
        }
        return failed("Function.DeadlineReached",
                      Status::unavailable("the deadline is near after " + std::to_string(i) +
                                          " of " + std::to_string(records.size()) +
                                          " records; the batch is retried from there"));
      }
      std::vector<SourceRecord> part(
          records.begin() + static_cast<ptrdiff_t>(i),
          records.begin() + static_cast<ptrdiff_t>(std::min(records.size(), i + chunk)));
      auto r = stage_.process(part);
      if (!r.isOk()) return failed("Function.Unavailable", r.status());
      total.records += r->records;
      total.enqueued += r->enqueued;
      total.rejected += r->rejected;
      total.skipped += r->skipped;
      total.duplicates += r->duplicates;
    }
    json::object doc{{"records", total.records + resumed}, {"enqueued", total.enqueued},
                     {"rejected", total.rejected},         {"skipped", total.skipped},
                     {"duplicates", total.duplicates},     {"resumed", resumed}};
    return {toJson(doc), std::nullopt, "records=" + std::to_string(total.records + resumed)};
  }

 private:
  using Partition = std::pair<std::string, int32_t>;
  struct Resume {
    int64_t first = 0;     // the batch's first offset in the partition
    int64_t doneUpTo = 0;  // every record below this offset is done
  };
  aws::MappedSource source_;
  IngestStage stage_;
  std::map<Partition, Resume> resume_;  // of the last batch that ran out of time
};

// ---- sync, route, lake: an SQS event source mapping's messages -----------------------------
// Runs `process` on chunks of the event's messages, with the EventBatchQueue as the stage's
// input, and answers the batchItemFailures. A failure of the stage's own queues (Unavailable
// from process) fails the invocation: the mapping retries the whole batch.
// stopByMs: when the chunk's work must be done (half the margin before the deadline; 0: none).
using ChunkProcessor = std::function<Status(
    aws::EventBatchQueue& in, const std::vector<ReceivedMessage>& chunk, int64_t stopByMs)>;

class SqsFunction final : public Function {
 public:
  SqsFunction(Wiring& w, Queue& real, size_t chunk, ChunkProcessor process)
      : Function(w),
        real_(real),
        chunk_(std::max<size_t>(1, chunk)),
        process_(std::move(process)) {}

  Outcome invoke(const Invocation& inv) override {
    auto event = parseEvent(inv);
    if (!event.isOk()) return failed("Function.MalformedEvent", event.status());
    auto messages = aws::parseSqsEvent(*event);
    if (!messages.isOk()) return failed("Function.MalformedEvent", messages.status());
    bool fifo = false;
    for (const auto& m : *messages) fifo = fifo || !m.groupId.empty();
    aws::EventBatchQueue in(real_, std::move(messages).value());
    const auto& batch = in.batch();
    size_t taken = 0;
    while (taken < batch.size() && !nearDeadline(inv)) {
      size_t n = std::min(chunk_, batch.size() - taken);
      std::vector<ReceivedMessage> part(batch.begin() + static_cast<ptrdiff_t>(taken),
                                        batch.begin() + static_cast<ptrdiff_t>(taken + n));
      int64_t stopBy =
          inv.deadlineMs > 0 ? inv.deadlineMs - w_.config().lambdaDeadlineMarginMs / 2 : 0;
      if (Status s = process_(in, part, stopBy); !s.isOk())
        return failed("Function.Unavailable", s);
      taken += n;
    }
    auto failures = in.failures(fifo);
    return {aws::batchItemFailures(failures), std::nullopt,
            "messages=" + std::to_string(batch.size()) + " taken=" + std::to_string(taken) +
                " failures=" + std::to_string(failures.size())};
  }

 private:
  Queue& real_;
  size_t chunk_;
  ChunkProcessor process_;
};

// ---- relay: a scheduled invocation drains the outbox ---------------------------------------
class RelayFunction final : public Function {
 public:
  explicit RelayFunction(Wiring& w)
      : Function(w), stage_(w.members(), w.topic(), w.clock(), RelayOptions{}) {}

  Outcome invoke(const Invocation& inv) override {
    size_t published = 0;
    bool drained = false;
    while (!nearDeadline(inv)) {
      auto n = stage_.pumpOnce();
      if (!n.isOk()) return failed("Function.Unavailable", n.status());
      published += *n;
      if (*n == 0) {
        drained = true;
        break;
      }
    }
    return {toJson(json::object{{"published", published}, {"drained", drained}}), std::nullopt,
            "published=" + std::to_string(published)};
  }

 private:
  RelayStage stage_;
};

// ---- api: API Gateway HTTP API events -------------------------------------------------------
class ApiFunction final : public Function {
 public:
  ApiFunction(Wiring& w, const api::MemberApi& api) : Function(w), api_(api) {}

  Outcome invoke(const Invocation& inv) override {
    auto event = parseEvent(inv);
    if (!event.isOk()) return failed("Function.MalformedEvent", event.status());
    auto req = api::requestFromHttpApiEvent(*event);
    if (!req.isOk()) return failed("Function.MalformedEvent", req.status());
    api::ApiResponse r = api_.handle(*req);
    return {api::httpApiResponse(r), std::nullopt, "status=" + std::to_string(r.status)};
  }

 private:
  const api::MemberApi& api_;
};

// The HTTP client of a function's outbound calls (sync's API calls and tokens): no request may
// outlive the invocation's stop-by time, whatever its own timeout.
class DeadlineHttp final : public HttpClient {
 public:
  DeadlineHttp(HttpClient& inner, const Clock& clock) : inner_(inner), clock_(clock) {}
  void stopBy(int64_t ms) { stopByMs_ = ms; }
  HttpResult send(const HttpRequest& request) override {
    int64_t stopBy = stopByMs_.load();
    if (stopBy <= 0) return inner_.send(request);
    HttpRequest r = request;
    long left = static_cast<long>(std::max<int64_t>(1, stopBy - clock_.nowMs()));
    r.timeoutMs = r.timeoutMs > 0 ? std::min(r.timeoutMs, left) : left;
    return inner_.send(r);
  }

 private:
  HttpClient& inner_;
  const Clock& clock_;
  std::atomic<int64_t> stopByMs_{0};
};

// Everything one function holds: opened once, in the init phase.
struct Runtime {
  std::unique_ptr<Wiring> wiring;
  std::unique_ptr<DeadlineHttp> http;
  std::unique_ptr<TokenProvider> tokens;
  ApiRunner api;
  std::unique_ptr<Function> function;
};

Status openFunction(Runtime& rt, const std::string& stage) {
  Wiring& w = *rt.wiring;
  if (stage == "ingest") {
    MF_RETURN_IF_ERROR(w.openQueues());
    MF_RETURN_IF_ERROR(w.openObjects());
    MF_RETURN_IF_ERROR(w.openLedger());
    rt.function = std::make_unique<IngestFunction>(w);
  } else if (stage == "sync") {
    MF_RETURN_IF_ERROR(w.openQueues());
    rt.http = std::make_unique<DeadlineHttp>(w.http(), w.clock());
    DeadlineHttp& http = *rt.http;
    rt.tokens = w.syncTokens(&http);
    TokenProvider& tokens = *rt.tokens;
    SyncOptions so = w.syncOptions();
    MF_RETURN_IF_ERROR(w.openParking());
    so.drainState = std::make_shared<SyncDrainState>();  // one for the container's invocations
    rt.function = std::make_unique<SqsFunction>(
        w, w.changes(), so.maxBatch,
        [&w, &http, &tokens, so](aws::EventBatchQueue& in, const std::vector<ReceivedMessage>& part,
                                 int64_t stopByMs) {
          // A hanging API or token endpoint must not outlive the invocation.
          http.stopBy(stopByMs);
          SyncOptions o = so;
          o.deadlineMs = stopByMs;
          // A stage per batch, sharing one drain state: process() drains released members
          // (the Lambda has no run() loop) at most once a second, before the batch.
          SyncStage stage(in, w.changesDlq(), http, tokens, w.clock(), o, &w.parking());
          return stage.process(part).status();
        });
  } else if (stage == "route") {
    MF_RETURN_IF_ERROR(w.openRouting());
    EventBus* bus = w.bus("default");
    if (!bus) return Status::invalidArgument("the rules file names no default bus");
    RouteOptions ro = w.routeOptions();
    rt.function = std::make_unique<SqsFunction>(
        w, w.routeQueue(), ro.maxBatch,
        [&w, bus, ro](aws::EventBatchQueue& in, const std::vector<ReceivedMessage>& part, int64_t) {
          RouteStage stage(in, w.routeDlq(), *bus, w.clock(), ro);
          return stage.process(part).status();
        });
  } else if (stage == "lake") {
    MF_RETURN_IF_ERROR(w.openQueues());
    MF_RETURN_IF_ERROR(w.openObjects());
    MF_RETURN_IF_ERROR(w.openLake());
    LakeOptions lo = w.lakeOptions();
    // Several instances of the function run at once (an SQS mapping's concurrency is at least
    // 2), each with a journal of its own: each writes under a name of its own, so that no two
    // ever stage an object under the same key.
    lo.writer += "-" + crypto::hex(crypto::randomBytes(4));
    // Objects staged by an instance that died before writing them are written now.
    MF_RETURN_IF_ERROR(
        LakeStage(w.lakeQueue(), w.lakeDlq(), w.objects(), w.lakeJournal(), w.clock(), lo)
            .recover());
    rt.function = std::make_unique<SqsFunction>(
        w, w.lakeQueue(), lo.maxEvents,
        [&w, lo](aws::EventBatchQueue& in, const std::vector<ReceivedMessage>& part, int64_t) {
          LakeStage stage(in, w.lakeDlq(), w.objects(), w.lakeJournal(), w.clock(), lo);
          // A chunk whose flush failed left objects staged: written before anything else.
          MF_RETURN_IF_ERROR(stage.recover());
          return stage.flush(part).status();
        });
  } else if (stage == "relay") {
    MF_RETURN_IF_ERROR(w.openMembers());
    MF_RETURN_IF_ERROR(w.openQueues());
    rt.function = std::make_unique<RelayFunction>(w);
  } else if (stage == "api") {
    MF_RETURN_IF_ERROR(rt.api.open(w));
    rt.function = std::make_unique<ApiFunction>(w, *rt.api.handler());
  } else {
    return Status::notFound("no stage " + stage.substr(0, 40) +
                            " (ingest, sync, route, lake, relay or api)");
  }
  return Status::ok();
}

}  // namespace

int lambdaCommand(const Result<Config>& cfg, std::string stage) {
  const char* endpoint = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (!endpoint || !*endpoint) {
    std::cerr << "memberflow lambda: AWS_LAMBDA_RUNTIME_API is not set (this command is a Lambda "
                 "runtime: run it under Lambda or the runtime interface emulator)\n";
    return 2;
  }
  if (stage.empty()) {
    const char* h = std::getenv("_HANDLER");
    stage = h ? h : "";
  }
  http::CurlHttpClient runtimeHttp;  // its own connection: the stage's calls never wait on it
  aws::LambdaRuntimeApi runtime(runtimeHttp, endpoint);
  auto initFailed = [&](const std::string& type, const Status& s) {
    log::error("lambda init failed", {stage, {}, {}, {}, type, s.message()});
    (void)runtime.initError({type, s.message().substr(0, 500)});
    return 1;
  };
  if (!cfg.isOk()) return initFailed("Runtime.ConfigError", cfg.status());
  applyLogLevel(*cfg);
  Config c = *cfg;
  // A function is frozen between invocations: no change-feed thread to keep a cache fresh.
  if (stage == "api") c.apiCacheEntries = 0;
  Runtime rt;
  rt.wiring = std::make_unique<Wiring>(c);
  if (Status s = openFunction(rt, stage); !s.isOk()) {
    return initFailed(s.code() == Code::kNotFound ? "Runtime.HandlerNotFound" : "Runtime.InitError",
                      s);
  }
  aws::EmfWriter emf;
  log::info("lambda runtime ready", {stage});
  for (;;) {
    auto inv = runtime.next();
    if (!inv.isOk()) {
      log::error("lambda runtime API failed, exiting",
                 {stage, {}, {}, {}, "exit", inv.status().message()});
      return 1;
    }
    if (inv->traceId.empty()) {
      unsetenv("_X_AMZN_TRACE_ID");
    } else {
      setenv("_X_AMZN_TRACE_ID", inv->traceId.c_str(), 1);
    }
    auto started = std::chrono::steady_clock::now();
    Outcome o;
    try {
      o = rt.function->invoke(*inv);
    } catch (const std::exception&) {
      // No exception is expected to get here; one that does must not end the function.
      o = failed("Runtime.Unknown", Status::internal("unexpected exception in the handler"));
    }
    Status posted =
        o.error ? runtime.fail(inv->requestId, *o.error) : runtime.respond(inv->requestId, o.body);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
    std::string detail =
        "request=" + inv->requestId + " " + o.summary + " ms=" + std::to_string(ms);
    if (o.error) {
      log::warn("invocation failed",
                {stage, {}, {}, {}, o.error->errorType, detail + " " + o.error->errorMessage});
    } else {
      log::info("invocation done", {stage, {}, {}, {}, "ok", detail});
    }
    emf.write(std::cout, rt.wiring->clock().nowMs());
    if (!posted.isOk()) {
      log::error("cannot post the invocation's result, exiting",
                 {stage, {}, {}, {}, "exit", "request=" + inv->requestId + " " + posted.message()});
      return 1;
    }
  }
}

}  // namespace memberflow::cli
