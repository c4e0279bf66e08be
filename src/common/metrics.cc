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
prometheus::Counter& Metrics::httpRequests(const std::string& method, int status) {
  return http_->Add({{"method", method}, {"status", std::to_string(status)}});
}
prometheus::Histogram& Metrics::httpSeconds(const std::string& method) {
  return httpSeconds_->Add({{"method", method}}, secondsBuckets());
}
prometheus::Gauge& Metrics::queueDepth(const std::string& queue) {
  return depth_->Add({{"queue", queue}});
}
prometheus::Gauge& Metrics::queueOldestAge(const std::string& queue) {
  return age_->Add({{"queue", queue}});
}

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace memberflow
