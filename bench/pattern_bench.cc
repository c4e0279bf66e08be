// Event-pattern matching throughput.
//  - BM_MemberEvents/N: N rules over generated member CloudEvents (routing-style rules on
//    type, state, plan, postal code prefixes, status), matched through one RuleSet.
//  - BM_CityLots2/<group>: each rule group of event-ruler's citylots2 benchmark (from the
//    corpora) on generated documents of the same shape (the 213,068-record data set itself
//    is not available, so match counts are not comparable; events/s is).
// Ratio to read: events/s at 10,000 rules vs at 1 rule (cost growth with the rule count).
#include <benchmark/benchmark.h>

#include "common/json.h"
#include "domain/event_pattern.h"
#include "pattern_workload.h"

namespace memberflow {
namespace {

using bench::memberEvents;
using bench::memberRule;

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

using bench::cityLots;
std::string corpus() { return bench::citylots2Corpus(); }

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
