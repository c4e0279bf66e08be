// File: supervisor.h
// The stage supervisor: owns the threads of the stages one `memberflow run` process runs.
//
// It starts each stage on its own thread, and stops and joins them all when a signal arrives,
// when the idle probe says the work is done (--until-idle), or when any stage ends on its own
// (a stage's loop returns only when asked to stop, so an early end is a failure: a thrown
// exception, say). Stopping is bounded: stages that have not finished within the shutdown
// deadline (a stage blocked in a dependency that does not answer) are abandoned and the
// process exits at once. That is safe because every stage is crash-safe by design (kill -9
// loses nothing: offsets, queue deletes and outbox deletes all follow durable effects), and it
// is what an orchestrator would do anyway once its own stop timeout passes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace memberflow::cli {

class StageSupervisor {
 public:
  struct Options {
    std::chrono::milliseconds shutdownDeadline{20000};
    // How often the signal flag is read, and the idle probe while it answers "busy".
    std::chrono::milliseconds tick{100};
    std::chrono::milliseconds gaugeEvery{1000};  // how often the gauges are published
    int idleChecksToStop = 3;                    // consecutive idle answers that end the run
    // After an idle answer the probe asks again this soon (at most a tick). Where every step
    // is visible to the probe (embedded queues and topic: work in progress holds a message in
    // flight, an outbox row or an uncommitted offset) the repeats only confirm, and a run ends
    // ~2 of these after its work; the runner keeps a whole tick for SNS, SQS and EventBridge,
    // whose deliveries are on their way unseen for a moment and whose counts are approximate.
    std::chrono::milliseconds idleConfirmTick{25};
  };
  enum class Ended { kSignal, kIdle, kStageFailed };

  explicit StageSupervisor(Options o) : opts_(o) {}
  // Stops and joins whatever still runs (bounded by the shutdown deadline).
  ~StageSupervisor();
  StageSupervisor(const StageSupervisor&) = delete;
  StageSupervisor& operator=(const StageSupervisor&) = delete;

  // Starts `body` on a thread of its own at once. `body` must return soon after its stop token
  // is requested. If it returns before that, or throws, every stage is stopped.
  void start(std::string name, std::function<void(std::stop_token)> body);

  // Waits until `signalled` is set, a stage ends on its own, or `idle` (when given) answers
  // true idleChecksToStop times in a row; calls `gauges` (when given) every gaugeEvery. Both
  // run on a "monitor" thread (they may block in a dependency; the signal is still seen within
  // a tick): they must stay valid until stopAndJoin returns. Call once. Does not stop the
  // stages: stopAndJoin does.
  Ended supervise(const std::atomic<bool>& signalled, const std::function<bool()>& idle,
                  const std::function<void()>& gauges);

  // Requests stop of every stage and joins them. Returns the names of the stages that did not
  // finish within the shutdown deadline (their threads are detached; the caller must exit the
  // process without running destructors of what they use, e.g. with std::_Exit).
  std::vector<std::string> stopAndJoin();

  // The stage that ended on its own first, with what it said ("" when none did).
  std::string failedStage() const;
  std::string failure() const;

 private:
  // Shared with the threads: an abandoned (detached) thread may end after the supervisor.
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> names;
    std::vector<bool> done;
    std::string failedStage, failure;
    void finished(size_t index, bool requested, std::string error);
  };

  Options opts_;
  std::stop_source stop_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::vector<std::thread> threads_;
  bool joined_ = false;
};

}  // namespace memberflow::cli
