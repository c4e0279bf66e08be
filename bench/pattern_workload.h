// File: pattern_workload.h
// The workload of the event-pattern benchmarks, shared by bench_patterns (pattern_bench.cc) and
// bench_pattern_peer (pattern_peer.cc, which bench/peer_event_ruler runs next to event-ruler):
// generated member CloudEvents and member-routing rules, event-ruler's citylots2 rule groups
// from the corpora, and generated documents of the citylots2 shape. Deterministic.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/json.h"

namespace memberflow::bench {

inline std::vector<json::value> memberEvents(size_t n) {
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
inline json::value memberRule(size_t i) {
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

// The event-pattern corpus: under $MEMBERFLOW_CORPORA (scripts/find-corpora) when set, else
// under ../shared/corpora beside the source tree.
inline std::filesystem::path corporaDir() {
  const char* env = std::getenv("MEMBERFLOW_CORPORA");
  std::filesystem::path root =
      env && *env ? std::filesystem::path(env)
                  : std::filesystem::path(MEMBERFLOW_SOURCE_DIR) / ".." / "shared" / "corpora";
  return root / "eventbridge-patterns";
}

// The corpus file of event-ruler's citylots2 benchmark (its rule groups and upstream's counts);
// empty when the corpora are not there.
inline std::string citylots2Corpus() {
  std::ifstream in(corporaDir() / "citylots2-benchmark-expectations.TRANSCRIBED.json");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Documents shaped like citylots2: properties strings, geometry with structured coordinates.
inline std::vector<json::value> cityLots(size_t n) {
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

}  // namespace memberflow::bench
