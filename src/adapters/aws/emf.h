// File: emf.h
// The process's metrics (common/metrics.h) in CloudWatch Embedded Metric Format, for a process
// whose stdout CloudWatch Logs collects (a Lambda function, DESIGN.md §7): one JSON line per
// label set, the metric names those of /metrics, the labels as dimensions. Counters (and a
// histogram's _count and _sum) are written as what they grew by since the last write, so that
// CloudWatch's Sum over a period is the period's count; gauges as their value.
#pragma once

#include <map>
#include <ostream>
#include <string>

namespace memberflow::aws {

class EmfWriter {
 public:
  explicit EmfWriter(std::string ns = "memberflow") : namespace_(std::move(ns)) {}
  // Writes the lines of what changed since the last call (nothing when nothing did), stamped
  // with nowMs. Not thread-safe.
  void write(std::ostream& out, int64_t nowMs);

 private:
  std::string namespace_;
  std::map<std::string, double> last_;  // series key -> counter value at the last write
};

}  // namespace memberflow::aws
