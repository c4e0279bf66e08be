// The process's metrics in CloudWatch Embedded Metric Format: the names of /metrics, labels as
// dimensions, counters as what they grew by since the last write.
#include "adapters/aws/emf.h"

#include <gtest/gtest.h>

#include <sstream>

#include "common/json.h"
#include "common/metrics.h"

namespace memberflow::aws {
namespace {

// The EMF documents written, by their "stage"/"outcome" dimension values.
std::vector<json::object> lines(const std::string& text) {
  std::vector<json::object> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(json::parse(l).as_object());
  return out;
}

const json::object* find(const std::vector<json::object>& docs, const std::string& stage,
                         const std::string& outcome) {
  for (const auto& d : docs) {
    if (d.contains("stage") && d.at("stage") == json::value(stage) && d.contains("outcome") &&
        d.at("outcome") == json::value(outcome))
      return &d;
  }
  return nullptr;
}

TEST(Emf, WritesCounterDeltasWithTheirDimensions) {
  auto& c = Metrics::instance().records("emf-test", "in");
  EmfWriter w;
  std::ostringstream first;
  w.write(first, 1767225600000);  // the baseline: whatever was counted before
  c.Increment(5);
  std::ostringstream second;
  w.write(second, 1767225601000);
  auto docs = lines(second.str());
  const json::object* d = find(docs, "emf-test", "in");
  ASSERT_NE(d, nullptr) << second.str();
  EXPECT_EQ(d->at("memberflow_records_total").as_double(), 5.0);
  const auto& meta = d->at("_aws").as_object();
  EXPECT_EQ(meta.at("Timestamp").as_int64(), 1767225601000);
  const auto& cw = meta.at("CloudWatchMetrics").as_array().at(0).as_object();
  EXPECT_EQ(cw.at("Namespace").as_string(), "memberflow");
  EXPECT_EQ(cw.at("Dimensions").as_array().at(0), (json::array{"outcome", "stage"}));
  EXPECT_EQ(cw.at("Metrics").as_array().at(0).as_object().at("Name").as_string(),
            "memberflow_records_total");
  // Nothing more counted: that series is not written again.
  std::ostringstream third;
  w.write(third, 1767225602000);
  EXPECT_EQ(find(lines(third.str()), "emf-test", "in"), nullptr);
}

}  // namespace
}  // namespace memberflow::aws
