#include "common/metrics.h"

#include <prometheus/text_serializer.h>

namespace memberflow {

namespace {
const prometheus::Histogram::BucketBoundaries& secondsBuckets() {
  static const prometheus::Histogram::BucketBoundaries b{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return b;
}
}  // namespace

Metrics& Metrics::instance() {
  static Metrics m;
  return m;
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  records_ = &prometheus::BuildCounter()
                  .Name("memberflow_records_total")
                  .Help("Records seen by a stage, by outcome")
                  .Register(*registry_);
  batch_ = &prometheus::BuildHistogram()
                .Name("memberflow_batch_seconds")
                .Help("Time to process one batch")
                .Register(*registry_);
  lag_ = &prometheus::BuildHistogram()
              .Name("memberflow_lag_seconds")
              .Help("Source timestamp to this stage's effect")
              .Register(*registry_);
  http_ = &prometheus::BuildCounter()
               .Name("memberflow_http_requests_total")
               .Help("Member API requests by method and status")
               .Register(*registry_);
  httpSeconds_ = &prometheus::BuildHistogram()
                      .Name("memberflow_http_request_seconds")
                      .Help("Member API request latency")
                      .Register(*registry_);
  depth_ = &prometheus::BuildGauge()
                .Name("memberflow_queue_depth")
                .Help("Messages in a queue, visible or in flight")
                .Register(*registry_);
  age_ = &prometheus::BuildGauge()
              .Name("memberflow_queue_oldest_age_seconds")
              .Help("Age of the oldest message in a queue")
              .Register(*registry_);
}

prometheus::Counter& Metrics::records(const std::string& stage, const std::string& outcome) {
  return records_->Add({{"stage", stage}, {"outcome", outcome}});
}
prometheus::Histogram& Metrics::batchSeconds(const std::string& stage) {
  return batch_->Add({{"stage", stage}}, secondsBuckets());
}
prometheus::Histogram& Metrics::lagSeconds(const std::string& stage) {
  return lag_->Add({{"stage", stage}}, secondsBuckets());
}
namespace {
constexpr std::array<std::string_view, 10> kMethodNames{
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "other"};
size_t methodIndex(std::string_view method) {
  for (size_t i = 0; i + 1 < kMethodNames.size(); ++i) {
    if (kMethodNames[i] == method) return i;
  }
  return kMethodNames.size() - 1;
}
}  // namespace

// Family::Add builds the series' labels and a new metric object (for a histogram, its buckets)
// before it looks the series up under the family's lock: too much for every request. Each series
// is added once and its address kept; a race only makes two threads add the same series, which
// Family::Add resolves to one object.
prometheus::Counter& Metrics::httpRequests(std::string_view method, int status) {
  size_t m = methodIndex(method);
  int code = status >= 100 && status <= 599 ? status : 599;
  auto& slot = httpCounters_[m * 500 + static_cast<size_t>(code - 100)];
  if (auto* c = slot.load(std::memory_order_acquire)) return *c;
  auto* c =
      &http_->Add({{"method", std::string(kMethodNames[m])}, {"status", std::to_string(code)}});
  slot.store(c, std::memory_order_release);
  return *c;
}
prometheus::Histogram& Metrics::httpSeconds(std::string_view method) {
  size_t m = methodIndex(method);
  auto& slot = httpHistograms_[m];
  if (auto* h = slot.load(std::memory_order_acquire)) return *h;
  auto* h = &httpSeconds_->Add({{"method", std::string(kMethodNames[m])}}, secondsBuckets());
  slot.store(h, std::memory_order_release);
  return *h;
}
prometheus::Gauge& Metrics::queueDepth(const std::string& queue) {
  return depth_->Add({{"queue", queue}});
}
prometheus::Gauge& Metrics::queueOldestAge(const std::string& queue) {
  return age_->Add({{"queue", queue}});
}

std::vector<prometheus::MetricFamily> Metrics::collect() const { return registry_->Collect(); }

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace memberflow
