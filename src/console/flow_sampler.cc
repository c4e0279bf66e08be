#include "console/flow_sampler.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"
#include "common/time.h"

namespace memberflow::console {
namespace {

json::value orNull(const std::optional<double>& v) { return v ? json::value(*v) : json::value(); }
json::value orNull(const std::optional<int64_t>& v) { return v ? json::value(*v) : json::value(); }

// Per second between two samples; none without a previous sample or time between them.
std::optional<double> rate(const FlowSample* prev, const FlowSample& cur, int64_t a, int64_t b) {
  if (!prev || cur.atMs <= prev->atMs) return std::nullopt;
  return static_cast<double>(b - a) * 1000.0 / static_cast<double>(cur.atMs - prev->atMs);
}

int64_t depthOf(const FlowSample& s, const std::string& q) {
  auto it = s.queues.find(q);
  return it == s.queues.end() ? 0 : it->second.visible + it->second.inFlight;
}

}  // namespace

FlowSampler::FlowSampler(ops::OperatorPorts& ports, std::mutex& lock, int64_t sampleMs,
                         int64_t keepMs)
    : ports_(ports),
      portsLock_(lock),
      sampleMs_(std::max<int64_t>(sampleMs, 100)),
      keepMs_(keepMs) {}

FlowSampler::~FlowSampler() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void FlowSampler::start() {
  thread_ = std::jthread([this](std::stop_token stop) {
    std::mutex m;
    std::condition_variable_any cv;
    while (!stop.stop_requested()) {
      if (Status s = sampleNow(); !s.isOk())
        log::warn("flow sample failed", {"console", {}, {}, {}, "degraded", s.toString()});
      std::unique_lock lk(m);
      cv.wait_for(lk, stop, std::chrono::milliseconds(sampleMs_), [] { return false; });
    }
  });
}

Result<FlowSample> FlowSampler::take() {
  std::lock_guard lock(portsLock_);
  FlowSample s;
  s.atMs = ports_.clock().nowMs();
  auto source = ports_.source();
  if (!source.isOk()) return source.status();
  auto progress = (*source)->progress();
  if (!progress.isOk()) return progress.status();
  s.sourceEnd = progress->end;
  s.sourceCommitted = progress->committed;
  // The age of the oldest record ingest has not committed, over the partitions.
  if (progress->lag() > 0) {
    if (auto reader = ports_.reader(); reader.isOk()) {
      auto ranges = (*reader)->ranges();
      if (ranges.isOk()) {
        for (const auto& [p, r] : *ranges) {
          int64_t from = std::max(r.committed, r.low);
          if (from >= r.high) continue;
          auto recs = (*reader)->read(p, from, from + 1, 1);
          if (!recs.isOk() || recs->empty() || recs->front().timestampMs <= 0) continue;
          double age = static_cast<double>(s.atMs - recs->front().timestampMs) / 1000.0;
          s.lagSeconds = std::max(s.lagSeconds.value_or(0.0), std::max(age, 0.0));
        }
      }
    }
  }
  auto queues = ports_.allQueues();
  if (!queues.isOk()) return queues.status();
  for (Queue* q : *queues) {
    auto st = q->stats();
    if (!st.isOk()) return st.status();
    s.queues[q->name()] = *st;
  }
  if (targetNames_.empty()) {
    if (auto names = ports_.dlqNames(); names.isOk())
      for (const auto& n : *names)
        if (n.rfind("target-", 0) == 0) targetNames_.push_back(n);
  }
  s.targets = targetNames_;  // flow() reads them from the sample, under mu_
  if (auto members = ports_.members(); members.isOk()) {
    if (auto ob = (*members)->outboxCount(); ob.isOk()) s.outbox = *ob;
    if (auto hw = (*members)->historyHighWater(); hw.isOk()) s.history = *hw;
  }
  if (auto parking = ports_.parking(); parking.isOk()) {
    if (auto parked = (*parking)->list(100000); parked.isOk()) {
      int64_t held = 0;
      for (const auto& p : *parked) held += p.held;
      s.parkedMembers = static_cast<int64_t>(parked->size());
      s.parkedHeld = held;
    }
  }
  return s;
}

Status FlowSampler::sampleNow() {
  auto s = take();
  if (!s.isOk()) return s.status();
  std::lock_guard lock(mu_);
  samples_.push_back(std::move(*s));
  while (samples_.size() > 2 && samples_.back().atMs - samples_.front().atMs > keepMs_)
    samples_.pop_front();
  return Status::ok();
}

json::array FlowSampler::nodes(const FlowSample* prev, const FlowSample& cur,
                               bool trendPoint) const {
  // Queue names as the ports name them: the DLQ of "x" is "x-dlq".
  auto queueNode = [&](const std::string& id, const std::string& label, const std::string& queue,
                       const std::string& dlqName) {
    json::object n{{"id", id}, {"label", label}};
    auto it = cur.queues.find(queue);
    if (it != cur.queues.end()) {
      n["depth"] = it->second.visible;
      n["inFlight"] = it->second.inFlight;
      n["oldestAgeSeconds"] =
          it->second.oldestSentAtMs > 0
              ? json::value(static_cast<double>(cur.atMs - it->second.oldestSentAtMs) / 1000.0)
              : json::value();
    }
    std::string dq = queue + "-dlq";
    int64_t dlqDepth = depthOf(cur, dq);
    auto grow = prev ? rate(prev, cur, depthOf(*prev, dq), dlqDepth) : std::nullopt;
    n["errorPerSec"] = grow ? json::value(std::max(*grow, 0.0)) : json::value();
    n["dlq"] = json::object{{"name", dlqName}, {"depth", dlqDepth}};
    return n;
  };
  json::array out;
  out.push_back(json::object{
      {"id", "source"},
      {"label", "Source topic"},
      {"records", cur.sourceEnd},
      {"lag", cur.sourceEnd - cur.sourceCommitted},
      {"lagSeconds", orNull(cur.lagSeconds)},
      {"inPerSec", orNull(prev ? rate(prev, cur, prev->sourceEnd, cur.sourceEnd) : std::nullopt)},
      {"outPerSec",
       orNull(prev ? rate(prev, cur, prev->sourceCommitted, cur.sourceCommitted) : std::nullopt)}});
  {
    int64_t dlqDepth = depthOf(cur, "ingest-dlq");
    auto grow = prev ? rate(prev, cur, depthOf(*prev, "ingest-dlq"), dlqDepth) : std::nullopt;
    out.push_back(json::object{
        {"id", "ingest"},
        {"label", "Ingest"},
        {"inPerSec",
         orNull(prev ? rate(prev, cur, prev->sourceCommitted, cur.sourceCommitted) : std::nullopt)},
        {"rejectPerSec", grow ? json::value(std::max(*grow, 0.0)) : json::value()},
        {"dlq", json::object{{"name", "ingest"}, {"depth", dlqDepth}}}});
  }
  std::optional<double> applied;
  if (prev && prev->history && cur.history) applied = rate(prev, cur, *prev->history, *cur.history);
  {
    json::object sync = queueNode("sync", "Sync (changes queue)", "changes", "changes");
    sync["outPerSec"] = orNull(applied);
    if (cur.parkedMembers)
      sync["parked"] = json::object{{"members", *cur.parkedMembers}, {"held", *cur.parkedHeld}};
    out.push_back(std::move(sync));
  }
  {
    std::optional<double> published;
    if (applied && prev->outbox && cur.outbox)
      published = std::max(0.0, *applied - *rate(prev, cur, *prev->outbox, *cur.outbox));
    out.push_back(json::object{{"id", "relay"},
                               {"label", "Relay (outbox)"},
                               {"outbox", orNull(cur.outbox)},
                               {"outPerSec", orNull(published)}});
  }
  out.push_back(queueNode("route", "Route", "route", "route"));
  out.push_back(queueNode("lake", "Lake", "lake", "lake"));
  for (const auto& t : cur.targets) out.push_back(queueNode(t, "Target " + t.substr(7), t, t));
  if (trendPoint) {  // numbers only, keyed by node
    for (auto& n : out) {
      json::object& o = n.as_object();
      o.erase("label");
      if (auto* d = o.if_contains("dlq")) o["dlqDepth"] = d->as_object()["depth"];
      o.erase("dlq");
      o.erase("parked");
    }
  }
  return out;
}

json::object FlowSampler::flow() {
  std::lock_guard lock(mu_);
  json::object out{{"sampleSeconds", static_cast<double>(sampleMs_) / 1000.0}};
  if (samples_.empty()) {
    out["at"] = nullptr;
    out["nodes"] = json::array();
    out["trend"] = json::array();
    return out;
  }
  const FlowSample& cur = samples_.back();
  const FlowSample* prev = samples_.size() > 1 ? &samples_[samples_.size() - 2] : nullptr;
  out["at"] = isoMillis(cur.atMs);
  out["nodes"] = nodes(prev, cur, false);
  json::array trend;
  for (size_t i = 0; i < samples_.size(); ++i) {
    json::object byNode;
    for (auto& n : nodes(i ? &samples_[i - 1] : nullptr, samples_[i], true)) {
      json::object& o = n.as_object();
      std::string id(o["id"].as_string());
      o.erase("id");
      byNode[id] = std::move(o);
    }
    trend.push_back(json::object{{"t", samples_[i].atMs}, {"nodes", std::move(byNode)}});
  }
  out["trend"] = std::move(trend);
  return out;
}

}  // namespace memberflow::console
