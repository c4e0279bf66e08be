#include "cli/supervisor.h"

#include <algorithm>
#include <cstdlib>
#include <exception>

#include "common/log.h"

namespace memberflow::cli {

StageSupervisor::~StageSupervisor() {
  if (joined_) return;
  if (!stopAndJoin().empty()) {
    // Detached threads still use what the caller is about to destroy: leave now (crash-safe).
    log::error("stages still busy at the shutdown deadline, exiting", {"run"});
    std::_Exit(1);
  }
}

void StageSupervisor::start(std::string name, std::function<void(std::stop_token)> body) {
  size_t index;
  {
    std::lock_guard lock(state_->mu);
    index = state_->names.size();
    state_->names.push_back(std::move(name));
    state_->done.push_back(false);
  }
  threads_.emplace_back([state = state_, index, body = std::move(body), token = stop_.get_token()] {
    std::string error;
    try {
      body(token);
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
    state->finished(index, token.stop_requested(), std::move(error));
  });
}

void StageSupervisor::State::finished(size_t index, bool requested, std::string error) {
  std::lock_guard lock(mu);
  done[index] = true;
  if (!requested && failedStage.empty()) {
    failedStage = names[index];
    failure = error.empty() ? "the stage ended before it was asked to stop" : std::move(error);
  }
  cv.notify_all();
}

StageSupervisor::Ended StageSupervisor::supervise(const std::atomic<bool>& signalled,
                                                  const std::function<bool()>& idle,
                                                  const std::function<void()>& gauges) {
  // The probes read queues and databases, which can hang with their dependency: they run on a
  // thread of their own, so this one always sees the signal within a tick.
  auto idleRuns = std::make_shared<std::atomic<int>>(0);
  if (idle || gauges) {
    start("monitor", [idle, gauges, idleRuns, state = state_, opts = opts_](std::stop_token t) {
      using Clock = std::chrono::steady_clock;
      auto lastGauge = Clock::now();
      std::mutex m;
      std::condition_variable_any cv;
      while (!t.stop_requested()) {
        if (gauges && Clock::now() - lastGauge >= opts.gaugeEvery) {
          gauges();
          lastGauge = Clock::now();
        }
        bool confirming = false;
        if (idle) {
          int runs = idle() ? *idleRuns + 1 : 0;
          *idleRuns = runs;
          confirming = runs > 0;
          if (runs >= opts.idleChecksToStop) {
            std::lock_guard wake(state->mu);  // supervise() returns now, not at its next tick
            state->cv.notify_all();
          }
        }
        std::unique_lock lock(m);
        // A tick (a shorter one to confirm an idle answer), or until stopped.
        cv.wait_for(lock, t, confirming ? std::min(opts.idleConfirmTick, opts.tick) : opts.tick,
                    [] { return false; });
      }
    });
  }
  for (;;) {
    {
      std::unique_lock lock(state_->mu);
      // Woken early when a stage ends or the probe has found the run idle; otherwise one tick.
      state_->cv.wait_for(lock, opts_.tick, [&] {
        return !state_->failedStage.empty() || *idleRuns >= opts_.idleChecksToStop;
      });
      if (!state_->failedStage.empty()) return Ended::kStageFailed;
    }
    if (signalled) return Ended::kSignal;
    if (*idleRuns >= opts_.idleChecksToStop) return Ended::kIdle;
  }
}

std::vector<std::string> StageSupervisor::stopAndJoin() {
  stop_.request_stop();
  std::vector<bool> done;
  std::vector<std::string> stuck;
  {
    std::unique_lock lock(state_->mu);
    state_->cv.wait_for(lock, opts_.shutdownDeadline, [this] {
      for (bool d : state_->done) {
        if (!d) return false;
      }
      return true;
    });
    done = state_->done;
    for (size_t i = 0; i < done.size(); ++i) {
      if (!done[i]) stuck.push_back(state_->names[i]);
    }
  }
  for (size_t i = 0; i < threads_.size(); ++i) {
    if (!threads_[i].joinable()) continue;
    if (done[i]) {
      threads_[i].join();  // past its last statement: returns at once
    } else {
      threads_[i].detach();
    }
  }
  joined_ = true;
  return stuck;
}

std::string StageSupervisor::failedStage() const {
  std::lock_guard lock(state_->mu);
  return state_->failedStage;
}

std::string StageSupervisor::failure() const {
  std::lock_guard lock(state_->mu);
  return state_->failure;
}

}  // namespace memberflow::cli
