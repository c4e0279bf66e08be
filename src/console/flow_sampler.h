// File: flow_sampler.h
// The console's flow map (issue 17, docs/console.md): every `sampleMs` it reads the cumulative
// positions the ports give — the source's end and committed offsets and its oldest uncommitted
// record, every queue's depth, the outbox, the member store's history, the parking store — and
// keeps 15 minutes of samples. A node's rates are the difference between the last two samples
// over the time between them.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "ops/operator_ports.h"

namespace memberflow::console {

struct FlowSample {
  int64_t atMs = 0;
  int64_t sourceEnd = 0, sourceCommitted = 0;
  std::optional<double> lagSeconds;          // none when nothing is waiting, or unknown
  std::map<std::string, QueueStats> queues;  // by queue name
  std::optional<int64_t> outbox;
  std::optional<int64_t> history;  // the member store's history high-water mark
  std::optional<int64_t> parkedMembers, parkedHeld;
  std::vector<std::string> targets;  // the DLQ names of the delivered targets (target-<name>)
};

class FlowSampler {
 public:
  // `lock` guards `ports` (shared with the console's other endpoints).
  FlowSampler(ops::OperatorPorts& ports, std::mutex& lock, int64_t sampleMs,
              int64_t keepMs = 15 * 60 * 1000);
  ~FlowSampler();
  // Starts the sampling thread (a first sample is taken at once).
  void start();
  // Takes one sample now (the thread calls it; tests too).
  Status sampleNow();
  // The flow map: {"at","sampleSeconds","nodes":[...],"trend":[...]} (docs/console.md).
  json::object flow();

 private:
  Result<FlowSample> take();
  json::array nodes(const FlowSample* prev, const FlowSample& cur, bool trendPoint) const;

  ops::OperatorPorts& ports_;
  std::mutex& portsLock_;
  int64_t sampleMs_, keepMs_;
  std::vector<std::string> targetNames_;  // the delivered targets; the sampling thread's only
  std::mutex mu_;
  std::deque<FlowSample> samples_;
  std::jthread thread_;
};

}  // namespace memberflow::console
