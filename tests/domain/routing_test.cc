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

}  // namespace
}  // namespace memberflow
