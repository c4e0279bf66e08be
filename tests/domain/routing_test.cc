// The routing rules file, JSON paths and the bus envelope.
#include "domain/routing.h"

#include <gtest/gtest.h>

namespace memberflow {
namespace {

TEST(Routing, RulesFileIsValidatedAndPathsSelect) {
  auto ok = parseRoutingConfig(R"({"targets":[{"name":"crm","type":"webhook","url":"http://x/y"}],
      "rules":[{"name":"r","pattern":{"detail-type":["member.updated"]},"targets":["crm"],"inputPath":"$.detail.data"}]})");
  ASSERT_TRUE(ok.isOk()) << ok.status().toString();
  EXPECT_EQ(ok->rules[0].bus, "default");
  for (
      const char* bad :
      {R"({"targets":[{"name":"a","type":"ftp"}]})",
       R"({"targets":[{"name":"a","type":"webhook","url":"file:///etc"}]})",
       R"({"rules":[{"name":"r","pattern":{"a":["b"]},"targets":["missing"]}]})",
       R"({"targets":[{"name":"q","type":"queue","queue":"x"}],"rules":[{"name":"r","pattern":{"a":[{"bogus":1}]},"targets":["q"]}]})",
       R"({"targets":[{"name":"q","type":"queue","queue":"x"}],"rules":[{"name":"r","pattern":{"a":["b"]},"targets":["q"],"inputPath":"detail"}]})",
       R"({"extra":1})"}) {
    EXPECT_EQ(parseRoutingConfig(bad).status().code(), Code::kInvalidArgument) << bad;
  }
  json::value v = json::parse(R"({"a":{"b":[{"c":1},{"c":2}]}})");
  EXPECT_EQ(*selectPath(v, "$.a.b[1].c"), json::value(2));
  EXPECT_EQ(*selectPath(v, "$"), v);
  EXPECT_EQ(selectPath(v, "$.a.x").status().code(), Code::kNotFound);
  EXPECT_EQ(selectPath(v, "$.a[x]").status().code(), Code::kInvalidArgument);
  BusEntry e{"id1", "memberflow/member-api", "member.updated", R"({"data":{"version":2}})", "t",
             "M1"};
  auto env = busEnvelope(e, "default");
  EXPECT_EQ(env.at("detail-type").as_string(), "member.updated");
  EXPECT_EQ(env.at("detail").at("data").at("version").as_int64(), 2);
}

// The bus matches an entry on its envelope with the detail read as the rules need it: the same
// rules as match() on the whole envelope, a detail that is not JSON being null there too.
TEST(Routing, MatchingRulesAgreeWithTheWholeEnvelope) {
  RuleSet rules;
  for (const auto& [name, pattern] : std::vector<std::pair<std::string, std::string>>{
           {"by-source", R"({"source":[{"prefix":"memberflow/"}]})"},
           {"active", R"({"detail":{"data":{"status":["active"]}}})"},
           {"no-detail", R"({"detail":[{"exists":false}]})"},
           {"detail-null", R"({"detail":[null]})"},
           {"bus", R"({"event-bus-name":["default"],"detail-type":["member.updated"]})"},
           {"items", R"({"detail":{"items":{"k":["a"],"v":[1]}}})"}}) {
    ASSERT_TRUE(rules.add(name, json::parse(pattern)).isOk()) << pattern;
  }
  EventReader reader;
  auto both = [&](const std::string& detail) {
    BusEntry e{"id1", "memberflow/member-api", "member.updated", detail, "t", "M1"};
    auto got = matchingRules(rules, e, "default", reader);
    EXPECT_EQ(got, rules.match(busEnvelope(e, "default"))) << detail;
    return got;
  };
  using Names = std::vector<std::string>;
  EXPECT_EQ(
      both(R"({"data":{"status":"active","x":[1,2]},"items":[{"k":"a","v":2},{"k":"b","v":1}]})"),
      (Names{"by-source", "active", "no-detail", "bus"}));  // an object is no value
  EXPECT_EQ(both(R"({"items":[{"k":"b"},{"k":"a","v":1}],"data":{"status":"inactive"}})"),
            (Names{"by-source", "no-detail", "bus", "items"}));
  // Not JSON (here only past what any rule reads): the detail is null, as in busEnvelope.
  EXPECT_EQ(both(R"({"data":{"status":"active"},"rest":[1,]})"),
            (Names{"by-source", "detail-null", "bus"}));
  EXPECT_EQ(both(""), (Names{"by-source", "detail-null", "bus"}));
  EXPECT_EQ(both("null"), (Names{"by-source", "detail-null", "bus"}));
  EXPECT_EQ(both(R"({})"), (Names{"by-source", "no-detail", "bus"}));
}

}  // namespace
}  // namespace memberflow
