#include "adapters/aws/emf.h"

#include <algorithm>
#include <vector>

#include "common/json.h"
#include "common/metrics.h"

namespace memberflow::aws {
namespace {

struct Value {
  std::string name, unit;
  double value;
};

std::string unitOf(const std::string& name) {
  if (name.ends_with("_seconds_sum") || name.ends_with("_seconds")) return "Seconds";
  return "Count";
}

}  // namespace

void EmfWriter::write(std::ostream& out, int64_t nowMs) {
  // label set (name=value pairs, sorted) -> the values to write for it
  std::map<std::vector<std::pair<std::string, std::string>>, std::vector<Value>> lines;
  auto series = [](const std::string& name,
                   const std::vector<std::pair<std::string, std::string>>& l) {
    std::string k = name;
    for (const auto& [n, v] : l) k += "\x1f" + n + "=" + v;
    return k;
  };
  auto delta = [&](const std::string& name, const auto& labels, double now) {
    double& last = last_[series(name, labels)];
    double d = now - last;
    last = now;
    if (d > 0) lines[labels].push_back({name, unitOf(name), d});
  };
  for (const auto& family : Metrics::instance().collect()) {
    for (const auto& m : family.metric) {
      std::vector<std::pair<std::string, std::string>> labels;
      for (const auto& l : m.label) labels.emplace_back(l.name, l.value);
      std::sort(labels.begin(), labels.end());
      switch (family.type) {
        case prometheus::MetricType::Counter: delta(family.name, labels, m.counter.value); break;
        case prometheus::MetricType::Histogram:
          delta(family.name + "_count", labels, static_cast<double>(m.histogram.sample_count));
          delta(family.name + "_sum", labels, m.histogram.sample_sum);
          break;
        case prometheus::MetricType::Gauge:
          lines[labels].push_back({family.name, unitOf(family.name), m.gauge.value});
          break;
        default: break;
      }
    }
  }
  for (const auto& [labels, values] : lines) {
    json::array dims, metrics;
    json::object doc;
    for (const auto& [n, v] : labels) {
      dims.push_back(json::string(n));
      doc[n] = v;
    }
    for (const auto& v : values) {
      metrics.push_back(json::object{{"Name", v.name}, {"Unit", v.unit}});
      doc[v.name] = v.value;
    }
    doc["_aws"] = json::object{
        {"Timestamp", nowMs},
        {"CloudWatchMetrics", json::array{json::object{{"Namespace", namespace_},
                                                       {"Dimensions", json::array{std::move(dims)}},
                                                       {"Metrics", std::move(metrics)}}}}};
    out << toJson(doc) << "\n";
  }
  out.flush();
}

}  // namespace memberflow::aws
