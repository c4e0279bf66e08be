// File: metrics.h
// Prometheus metrics of the process. One registry per process is the one piece of global
// state: metrics are observed everywhere and exported in one place (/metrics).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <string>
#include <string_view>
#include <vector>

namespace memberflow {

class Metrics {
 public:
  static Metrics& instance();

  // memberflow_records_total{stage, outcome}: records in (outcome="in") and their outcomes.
  prometheus::Counter& records(const std::string& stage, const std::string& outcome);
  // memberflow_batch_seconds{stage}
  prometheus::Histogram& batchSeconds(const std::string& stage);
  // memberflow_lag_seconds{stage}: source timestamp to this stage's effect.
  prometheus::Histogram& lagSeconds(const std::string& stage);
  // memberflow_http_requests_total{method, status} and memberflow_http_request_seconds{method}.
  // Called for every request, so the series are found without a lock or an allocation once
  // made. A method outside RFC 9110's set is counted as "other" (a client must not be able to
  // create series at will); a status outside 100..599 as 599.
  prometheus::Counter& httpRequests(std::string_view method, int status);
  prometheus::Histogram& httpSeconds(std::string_view method);
  // memberflow_queue_depth{queue}, memberflow_queue_oldest_age_seconds{queue}
  prometheus::Gauge& queueDepth(const std::string& queue);
  prometheus::Gauge& queueOldestAge(const std::string& queue);

  std::string serialize() const;
  // Every series now (for exports other than /metrics: CloudWatch EMF).
  std::vector<prometheus::MetricFamily> collect() const;

 private:
  Metrics();
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* records_;
  prometheus::Family<prometheus::Histogram>* batch_;
  prometheus::Family<prometheus::Histogram>* lag_;
  prometheus::Family<prometheus::Counter>* http_;
  prometheus::Family<prometheus::Histogram>* httpSeconds_;
  prometheus::Family<prometheus::Gauge>* depth_;
  prometheus::Family<prometheus::Gauge>* age_;
  static constexpr size_t kMethods =
      10;  // GET HEAD POST PUT PATCH DELETE OPTIONS TRACE CONNECT other
  std::array<std::atomic<prometheus::Counter*>, kMethods * 500> httpCounters_{};
  std::array<std::atomic<prometheus::Histogram*>, kMethods> httpHistograms_{};
};

}  // namespace memberflow
