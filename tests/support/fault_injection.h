// File: fault_injection.h
// Forwarding wrappers of the ports that fail on demand, at exact points (leveldb's EnvWrapper
// and db/fault_injection_test.cc): FlakyQueue, FlakyStore, FlakySource, FlakyTopic, FlakyBus,
// FlakyDeliveryLog.
// Each forwards every call to the adapter (or fake) it wraps; a Faults plan per operation
// says which calls fail instead, and with what status: "fail the third put", "the next four
// receives are Unavailable", "every publish fails until healed".
//
// The queue and the source can also wait on a Clock: with waitOn(clock, stop), a receive or
// poll that finds nothing waits its wait time on that clock (a ManualClock in stage tests)
// instead of in real time, and a stop ends the wait — a long poll that a test steps through.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "common/status.h"
#include "ports/change_source.h"
#include "ports/clock.h"
#include "ports/delivery_log.h"
#include "ports/event_bus.h"
#include "ports/object_store.h"
#include "ports/queue.h"
#include "ports/topic.h"

namespace memberflow::testing {

// Which calls of one operation fail. Calls count from 1 over the wrapper's life. Thread-safe.
class Faults {
 public:
  // The next n calls fail with `status`.
  void failNext(int n, Status status = injected()) {
    std::lock_guard lock(mu_);
    next_ = n;
    nextStatus_ = std::move(status);
  }
  // Call number `call` (counted from the first call ever) fails with `status`.
  void failCall(int call, Status status = injected()) {
    std::lock_guard lock(mu_);
    at_[call] = std::move(status);
  }
  // Every call fails with `status` until heal().
  void failAlways(Status status = injected()) {
    std::lock_guard lock(mu_);
    always_ = std::move(status);
  }
  // Nothing fails any more.
  void heal() {
    std::lock_guard lock(mu_);
    next_ = 0;
    at_.clear();
    always_.reset();
  }
  int calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  int failures() const {
    std::lock_guard lock(mu_);
    return failures_;
  }
  // For the wrapper: counts a call and returns the failure planned for it, or ok.
  Status next() {
    std::lock_guard lock(mu_);
    ++calls_;
    Status out;
    if (auto it = at_.find(calls_); it != at_.end()) {
      out = it->second;
      at_.erase(it);
    } else if (next_ > 0) {
      --next_;
      out = nextStatus_;
    } else if (always_) {
      out = *always_;
    }
    if (!out.isOk()) ++failures_;
    return out;
  }
  static Status injected() { return Status::unavailable("injected failure"); }

 private:
  mutable std::mutex mu_;
  int calls_ = 0;
  int failures_ = 0;
  int next_ = 0;
  Status nextStatus_;
  std::map<int, Status> at_;
  std::optional<Status> always_;
};

// Waits a poll's wait time on a clock when set (see the file comment).
class ClockedWait {
 public:
  void waitOn(const Clock& clock, std::stop_token stop) {
    clock_ = &clock;
    stop_ = std::move(stop);
  }

 protected:
  // Runs `once` without waiting; when that finds nothing and wait > 0, waits on the clock and
  // runs it once more. Without a clock: `blocking` (the wrapped call with its own wait).
  template <class R, class Once, class Blocking>
  R longPoll(std::chrono::milliseconds wait, Once once, Blocking blocking) {
    if (clock_ == nullptr) return blocking();
    R r = once();
    if (!r.isOk() || !r->empty() || wait <= std::chrono::milliseconds::zero()) return r;
    if (!clock_->sleepFor(wait, stop_)) return r;
    return once();
  }

 private:
  const Clock* clock_ = nullptr;
  std::stop_token stop_;
};

class FlakyQueue final : public Queue, public ClockedWait {
 public:
  explicit FlakyQueue(Queue& q) : q_(q) {}
  Faults sends, receives, removes, visibility;
  // The waitMs of every receive, in call order.
  std::vector<int64_t> receiveWaits() const {
    std::lock_guard lock(mu_);
    return waits_;
  }

  const std::string& name() const override { return q_.name(); }
  Status send(const std::vector<OutgoingMessage>& m) override {
    MF_RETURN_IF_ERROR(sends.next());
    return q_.send(m);
  }
  Result<std::vector<ReceivedMessage>> receive(size_t n, int64_t v, int64_t w) override {
    {
      std::lock_guard lock(mu_);
      waits_.push_back(w);
    }
    MF_RETURN_IF_ERROR(receives.next());
    return longPoll<Result<std::vector<ReceivedMessage>>>(
        std::chrono::milliseconds(w), [&] { return q_.receive(n, v, 0); },
        [&] { return q_.receive(n, v, w); });
  }
  Status remove(const std::vector<std::string>& r) override {
    MF_RETURN_IF_ERROR(removes.next());
    return q_.remove(r);
  }
  Status changeVisibility(const std::string& r, int64_t v) override {
    MF_RETURN_IF_ERROR(visibility.next());
    return q_.changeVisibility(r, v);
  }
  Result<QueueStats> stats() override { return q_.stats(); }
  Result<std::vector<ReceivedMessage>> peek(size_t n) override { return q_.peek(n); }

 private:
  Queue& q_;
  mutable std::mutex mu_;
  std::vector<int64_t> waits_;
};

class FlakyStore final : public ObjectStore {
 public:
  explicit FlakyStore(ObjectStore& s) : s_(s) {}
  Faults puts, gets, lists;
  Status put(const std::string& k, const std::string& d, const PutOptions& o) override {
    MF_RETURN_IF_ERROR(puts.next());
    return s_.put(k, d, o);
  }
  // One fault draw per object, as put() makes; the objects without a fault go to the wrapped
  // store's putAll together.
  std::vector<Status> putAll(const std::vector<ObjectPut>& objects, const PutOptions& o) override {
    std::vector<Status> out(objects.size(), Status::ok());
    std::vector<ObjectPut> passed;
    std::vector<size_t> at;
    for (size_t i = 0; i < objects.size(); ++i) {
      out[i] = puts.next();
      if (out[i].isOk()) {
        passed.push_back(objects[i]);
        at.push_back(i);
      }
    }
    auto got = s_.putAll(passed, o);
    for (size_t k = 0; k < at.size(); ++k) out[at[k]] = got[k];
    return out;
  }
  Result<std::string> get(const std::string& k) override {
    MF_RETURN_IF_ERROR(gets.next());
    return s_.get(k);
  }
  Result<std::vector<std::string>> list(const std::string& p) override {
    MF_RETURN_IF_ERROR(lists.next());
    return s_.list(p);
  }

 private:
  ObjectStore& s_;
};

class FlakySource final : public ChangeSource, public ClockedWait {
 public:
  explicit FlakySource(ChangeSource& s) : s_(s) {}
  Faults polls, commits, rewinds;
  // The offsets of every successful commit, in call order.
  std::vector<std::map<int32_t, int64_t>> committed() const {
    std::lock_guard lock(mu_);
    return committed_;
  }

  // Poll number `call` (counted from 1) acts as a rebalance that revoked partitions.
  void revokeAtPoll(int call) { revokeAt_ = call; }
  uint64_t revocations() const override { return s_.revocations() + revoked_; }

  Result<std::vector<SourceRecord>> poll(size_t max, std::chrono::milliseconds wait) override {
    if (polls.calls() + 1 == revokeAt_) ++revoked_;
    MF_RETURN_IF_ERROR(polls.next());
    return longPoll<Result<std::vector<SourceRecord>>>(
        wait, [&] { return s_.poll(max, std::chrono::milliseconds::zero()); },
        [&] { return s_.poll(max, wait); });
  }
  Status commit(const std::map<int32_t, int64_t>& next) override {
    MF_RETURN_IF_ERROR(commits.next());
    Status s = s_.commit(next);
    if (s.isOk()) {
      std::lock_guard lock(mu_);
      committed_.push_back(next);
    }
    return s;
  }
  Status rewindToCommitted() override {
    MF_RETURN_IF_ERROR(rewinds.next());
    return s_.rewindToCommitted();
  }
  Result<Progress> progress() override { return s_.progress(); }

 private:
  ChangeSource& s_;
  mutable std::mutex mu_;
  std::vector<std::map<int32_t, int64_t>> committed_;
  std::atomic<int> revokeAt_{0};
  std::atomic<uint64_t> revoked_{0};
};

class FlakyTopic final : public Topic {
 public:
  explicit FlakyTopic(Topic& t) : t_(t) {}
  Faults publishes;
  const std::string& name() const override { return t_.name(); }
  Status publish(const std::vector<OutgoingMessage>& m) override {
    MF_RETURN_IF_ERROR(publishes.next());
    return t_.publish(m);
  }

 private:
  Topic& t_;
};

// `puts` fails whole calls; `entries` fails single entries of a call that goes through (each
// entry counts as one call of it), the way PutEvents reports a partial failure.
class FlakyBus final : public EventBus {
 public:
  explicit FlakyBus(EventBus& b) : b_(b) {}
  Faults puts, entries;
  const std::string& name() const override { return b_.name(); }
  Result<std::vector<Status>> put(const std::vector<BusEntry>& e) override {
    MF_RETURN_IF_ERROR(puts.next());
    std::vector<Status> planned;
    std::vector<BusEntry> forwarded;
    for (const auto& entry : e) {
      planned.push_back(entries.next());
      if (planned.back().isOk()) forwarded.push_back(entry);
    }
    std::vector<Status> got;
    if (!forwarded.empty()) {
      auto r = b_.put(forwarded);
      if (!r.isOk()) return r.status();
      got = std::move(r).value();
    }
    size_t next = 0;
    for (auto& s : planned) {
      if (s.isOk()) s = got[next++];
    }
    return planned;
  }

 private:
  EventBus& b_;
};

class FlakyDeliveryLog final : public DeliveryLog {
 public:
  explicit FlakyDeliveryLog(DeliveryLog& l) : l_(l) {}
  Faults records;
  Status record(const std::vector<DeliveryRecord>& d) override {
    MF_RETURN_IF_ERROR(records.next());
    return l_.record(d);
  }
  Result<std::vector<DeliveryRecord>> scan(int64_t afterSeq, size_t limit) override {
    return l_.scan(afterSeq, limit);
  }
  Result<std::vector<bool>> delivered(const std::vector<DeliveryKey>& keys) override {
    return l_.delivered(keys);
  }

 private:
  DeliveryLog& l_;
};

}  // namespace memberflow::testing
