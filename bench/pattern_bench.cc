// Event-pattern matching throughput.
//  - BM_MemberEvents/N: N rules over generated member CloudEvents (routing-style rules on
//    type, state, plan, postal code prefixes, status), matched through one RuleSet.
//  - BM_CityLots2/<group>: each rule group of event-ruler's citylots2 benchmark (from the
//    corpora) on generated documents of the same shape (the 213,068-record data set itself
//    is not available, so match counts are not comparable; events/s is).
// Ratio to read: events/s at 10,000 rules vs at 1 rule (cost growth with the rule count).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "common/json.h"
#include "domain/event_pattern.h"

namespace memberflow {
namespace {

std::vector<json::value> memberEvents(size_t n) {
  std::mt19937_64 rng(7);
  const char* types[] = {"member.created", "member.updated", "member.deleted"};
  const char* states[] = {"IA", "NE", "IL", "MN", "WI", "MO"};
  const char* plans[] = {"PPO-GOLD", "HMO-SILVER", "EPO-BRONZE", "HDHP-1"};
  const char* statuses[] = {"active", "inactive", "terminated"};
  std::vector<json::value> out;
  for (size_t i = 0; i < n; ++i) {
    char zip[8];
    std::snprintf(zip, sizeof zip, "5%04d", static_cast<int>(rng() % 10000));
    json::object member{
        {"memberId", "M" + std::to_string(rng() % 20000)},
        {"address", json::object{{"state", states[rng() % 6]}, {"postalCode", zip}}},
        {"coverage", json::object{{"planId", plans[rng() % 4]}}},
        {"status", statuses[rng() % 3]}};
    out.push_back(json::object{
        {"specversion", "1.0"},
        {"source", "memberflow/member-api"},
        {"type", types[rng() % 3]},
        {"data", json::object{{"member", member},
                              {"changedFields", json::array{"address.city", "status"}}}}});
  }
  return out;
}

// Rule i: shapes a routing table holds, each selective (a CRM team per postal area, per
// member, per plan and state), plus a few broad ones that every table has.
json::value memberRule(size_t i) {
  char zip[8];
  std::snprintf(zip, sizeof zip, "5%04zu", i % 10000);
  std::string id = "M" + std::to_string(i % 20000);
  const char* plans[] = {"PPO-GOLD", "HMO-SILVER", "EPO-BRONZE", "HDHP-1"};
  if (i % 1000 == 999) return json::parse(R"({"type":["member.deleted"]})");
  switch (i % 4) {
    case 0:
      return json::parse(
          std::string(
              R"({"type":["member.updated"],"data":{"member":{"address":{"postalCode":[")") +
          zip + R"("]}}}})");
    case 1:
      return json::parse(std::string(R"({"data":{"member":{"address":{"postalCode":[{"prefix":")") +
                         std::string(zip).substr(0, 5) + R"("}]},"status":["active"]}}})");
    case 2:
      return json::parse(R"({"data":{"member":{"memberId":[")" + id +
                         R"("],"status":[{"anything-but":"terminated"}]}}})");
    default:
      return json::parse(std::string(R"({"data":{"member":{"coverage":{"planId":[")") +
                         plans[i % 4] + R"("]},"memberId":[{"prefix":")" + id + R"("}]}}})");
  }
}

void BM_MemberEvents(benchmark::State& state) {
  RuleSet rules;
  for (size_t i = 0; i < static_cast<size_t>(state.range(0)); ++i) {
    if (!rules.add("r" + std::to_string(i), memberRule(i)).isOk()) state.SkipWithError("bad rule");
  }
  auto events = memberEvents(4096);
  size_t i = 0, matched = 0;
  for (auto _ : state) {
    matched += rules.match(events[i++ & 4095]).size();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["matches_per_event"] =
      static_cast<double>(matched) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_MemberEvents)->Arg(1)->Arg(100)->Arg(10000);

std::string corpus() {
  auto p = std::filesystem::path(MEMBERFLOW_SOURCE_DIR) / ".." / "shared" / "corpora" /
           "eventbridge-patterns" / "citylots2-benchmark-expectations.TRANSCRIBED.json";
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Documents shaped like citylots2: properties strings, geometry with structured coordinates.
std::vector<json::value> cityLots(size_t n) {
  std::mt19937_64 rng(11);
  const char* streets[] = {"FULTON", "JEFFERSON", "ACACIA", "GREENWICH",
                           "MASON",  "ACTON",     "JACKSON"};
  std::vector<json::value> out;
  for (size_t i = 0; i < n; ++i) {
    char lot[8];
    std::snprintf(lot, sizeof lot, "%07d", static_cast<int>(1430000 + rng() % 2000000));
    json::array coords;
    for (int k = 0; k < 6; ++k) {
      coords.push_back(json::object{{"x", -122.4 - static_cast<double>(rng() % 100000) / 1e6},
                                    {"y", 37.7 + static_cast<double>(rng() % 100000) / 1e6},
                                    {"z", 0}});
    }
    json::object first = coords[0].as_object();
    out.push_back(json::object{
        {"type", "Feature"},
        {"properties", json::object{{"MAPBLKLOT", lot},
                                    {"BLKLOT", lot},
                                    {"STREET", streets[rng() % 7]},
                                    {"ST_TYPE", "ST"}}},
        {"geometry",
         json::object{{"type", "Polygon"}, {"coordinates", coords}, {"firstCoordinates", first}}}});
  }
  return out;
}

void BM_CityLots2(benchmark::State& state, size_t group) {
  auto doc = json::parse(corpus());
  const auto& g = doc.at("cl2_benchmark_groups").as_array()[group].as_object();
  RuleSet rules;
  size_t r = 0;
  for (const auto& p : g.at("patterns").as_array()) {
    if (!rules.add("r" + std::to_string(r++), p.at("pattern")).isOk())
      state.SkipWithError("bad rule");
  }
  auto events = cityLots(4096);
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(rules.match(events[i++ & 4095]));
  state.SetItemsProcessed(state.iterations());
}

int registerCityLots() {
  std::string text = corpus();
  if (text.empty()) return 0;
  auto doc = json::parse(text);
  const auto& groups = doc.at("cl2_benchmark_groups").as_array();
  for (size_t g = 0; g < groups.size(); ++g) {
    std::string name = "BM_CityLots2/" + std::string(groups[g].at("group").as_string());
    benchmark::RegisterBenchmark(name.c_str(), [g](benchmark::State& s) { BM_CityLots2(s, g); });
  }
  return 0;
}
const int kRegistered = registerCityLots();

}  // namespace
}  // namespace memberflow

BENCHMARK_MAIN();
