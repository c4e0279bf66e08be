// The stage supervisor: a failing stage stops the others, a stuck stage is named and abandoned
// at the shutdown deadline, the idle probe and the signal flag end a run.
#include "cli/supervisor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace memberflow::cli {
namespace {

using namespace std::chrono_literals;

StageSupervisor::Options fast(std::chrono::milliseconds deadline = 5000ms) {
  StageSupervisor::Options o;
  o.shutdownDeadline = deadline;
  o.tick = 5ms;
  o.gaugeEvery = 10ms;
  return o;
}

// A stage that works until asked to stop.
void polite(std::stop_token t) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait(lock, t, [] { return false; });  // wakes on the stop request
}

TEST(StageSupervisor, AStageThatThrowsStopsAndJoinsTheOthers) {
  auto politeStopped = std::make_shared<std::atomic<bool>>(false);
  StageSupervisor s(fast());
  s.start("polite", [politeStopped](std::stop_token t) {
    polite(t);
    *politeStopped = true;
  });
  s.start("broken", [](std::stop_token) { throw std::runtime_error("database gone"); });
  std::atomic<bool> signalled{false};
  EXPECT_EQ(s.supervise(signalled, nullptr, nullptr), StageSupervisor::Ended::kStageFailed);
  EXPECT_EQ(s.failedStage(), "broken");
  EXPECT_EQ(s.failure(), "database gone");
  EXPECT_TRUE(s.stopAndJoin().empty());
  EXPECT_TRUE(*politeStopped);
}

TEST(StageSupervisor, AStageThatReturnsUnaskedCountsAsFailed) {
  StageSupervisor s(fast());
  s.start("polite", polite);
  s.start("quitter", [](std::stop_token) {});
  std::atomic<bool> signalled{false};
  EXPECT_EQ(s.supervise(signalled, nullptr, nullptr), StageSupervisor::Ended::kStageFailed);
  EXPECT_EQ(s.failedStage(), "quitter");
  EXPECT_TRUE(s.stopAndJoin().empty());
}

TEST(StageSupervisor, TheSignalFlagEndsTheRunAndEveryStageStopsOnRequest) {
  StageSupervisor s(fast());
  auto stopped = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < 3; ++i) {
    s.start("stage" + std::to_string(i), [stopped](std::stop_token t) {
      polite(t);
      ++*stopped;
    });
  }
  std::atomic<bool> signalled{true};
  EXPECT_EQ(s.supervise(signalled, nullptr, nullptr), StageSupervisor::Ended::kSignal);
  EXPECT_TRUE(s.stopAndJoin().empty());
  EXPECT_EQ(*stopped, 3);
  EXPECT_TRUE(s.failedStage().empty());
}

TEST(StageSupervisor, IdleEndsTheRunOnlyAfterConsecutiveIdleAnswersAndGaugesArePublished) {
  StageSupervisor s(fast());
  s.start("polite", polite);
  std::atomic<bool> signalled{false};
  // busy, idle, busy, then idle for good: the run ends on the third idle answer in a row.
  std::vector<bool> answers{false, true, false, true, true, true};
  size_t asked = 0;
  auto ended = s.supervise(
      signalled,
      [&] { return asked < answers.size() ? static_cast<bool>(answers[asked++]) : true; }, nullptr);
  EXPECT_EQ(ended, StageSupervisor::Ended::kIdle);
  EXPECT_TRUE(s.stopAndJoin().empty());
  EXPECT_EQ(asked, answers.size());
}

// An idle answer is confirmed at the short tick, and supervise() returns as soon as it is: with
// a tick of 30 s the old rhythm (three answers a tick apart) would take a minute.
TEST(StageSupervisor, AnIdleRunEndsAfterConfirmingTicksNotWholeTicks) {
  StageSupervisor::Options o = fast();
  o.tick = 30s;
  o.idleConfirmTick = 10ms;
  StageSupervisor s(o);
  s.start("polite", polite);
  std::atomic<bool> signalled{false};
  std::atomic<int> asked{0};
  auto t0 = std::chrono::steady_clock::now();
  auto ended = s.supervise(
      signalled,
      [&] {
        ++asked;
        return true;
      },
      nullptr);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(ended, StageSupervisor::Ended::kIdle);
  EXPECT_LT(took, 20s);  // ~20 ms here; the old rhythm: 60 s
  EXPECT_GE(asked, 3);
  EXPECT_TRUE(s.stopAndJoin().empty());
}

TEST(StageSupervisor, GaugesArePublishedOnTheirPeriod) {
  StageSupervisor s(fast());
  s.start("polite", polite);
  std::atomic<bool> signalled{false};
  std::atomic<int> gauges{0};
  auto ended = s.supervise(
      signalled, [&] { return gauges >= 3; }, [&] { ++gauges; });
  EXPECT_EQ(ended, StageSupervisor::Ended::kIdle);
  EXPECT_TRUE(s.stopAndJoin().empty());
  EXPECT_GE(gauges, 3);
}

TEST(StageSupervisor, AProbeThatHangsDoesNotHideTheSignal) {
  // The gauges read queues; with their endpoint hanging, so do they.
  auto release = std::make_shared<std::promise<void>>();
  auto released = release->get_future().share();
  auto signalled = std::make_shared<std::atomic<bool>>(false);
  auto entered = std::make_shared<std::atomic<bool>>(false);
  std::vector<std::string> stuck;
  {
    StageSupervisor s(fast(50ms));
    s.start("polite", polite);
    std::thread signaller([signalled, entered] {
      entered->wait(false);  // until the probe has started
      *signalled = true;     // the signal arrives while the probe hangs
    });
    auto ended = s.supervise(*signalled, nullptr, [released, entered] {
      *entered = true;
      entered->notify_all();
      released.wait();
    });
    signaller.join();
    EXPECT_EQ(ended, StageSupervisor::Ended::kSignal);
    stuck = s.stopAndJoin();
  }
  EXPECT_EQ(stuck, std::vector<std::string>{"monitor"});
  release->set_value();
}

TEST(StageSupervisor, AStageBlockedPastTheDeadlineIsNamedAndAbandoned) {
  // The blocked stage owns everything it touches, since it outlives the supervisor.
  auto release = std::make_shared<std::promise<void>>();
  auto released = release->get_future().share();
  auto finished = std::make_shared<std::atomic<bool>>(false);
  auto done = std::make_shared<std::promise<void>>();
  auto doneFuture = done->get_future();
  std::vector<std::string> stuck;
  {
    StageSupervisor s(fast(50ms));
    s.start("polite", polite);
    s.start("blocked", [released, finished, done](std::stop_token) {
      released.wait();  // a dependency that does not answer, whatever the stop token says
      *finished = true;
      done->set_value();
    });
    std::atomic<bool> signalled{true};
    EXPECT_EQ(s.supervise(signalled, nullptr, nullptr), StageSupervisor::Ended::kSignal);
    auto started = std::chrono::steady_clock::now();
    stuck = s.stopAndJoin();
    EXPECT_GE(std::chrono::steady_clock::now() - started, 50ms);
  }
  EXPECT_EQ(stuck, std::vector<std::string>{"blocked"});
  EXPECT_FALSE(*finished);
  release->set_value();  // let the detached thread end before the test binary does
  EXPECT_EQ(doneFuture.wait_for(60s), std::future_status::ready);
  EXPECT_TRUE(*finished);
}

}  // namespace
}  // namespace memberflow::cli
