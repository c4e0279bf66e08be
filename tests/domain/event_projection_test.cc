// Reading events keeping only what the rules name (EventProjection, EventReader) and matching
// them that way (RuleSet::matchText): what is kept and dropped, that the same texts are refused
// as by a full parse, and that every edge of the pattern semantics gets the answer match()
// gives on the whole document. Each matching test states its answer too: a projection that
// dropped what a rule needs would change it.
#include "domain/event_projection.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "domain/event_pattern.h"

namespace memberflow {
namespace {

using Names = std::vector<std::string>;

json::value J(std::string_view s) { return json::parse(s); }

std::unique_ptr<RuleSet> rules(const std::vector<std::pair<std::string, std::string>>& patterns) {
  auto rs = std::make_unique<RuleSet>();
  for (const auto& [name, p] : patterns) EXPECT_TRUE(rs->add(name, J(p)).isOk()) << p;
  return rs;
}

// matchText's answer, checked against match() on the full parse: the same names, or both
// refusing the text ("<invalid>").
Names matchBoth(const RuleSet& rs, std::string_view event) {
  EventReader reader;
  auto viaText = rs.matchText(event, reader);
  JsonArena arena;
  auto full = arena.parse(event);
  EXPECT_EQ(viaText.isOk(), full.isOk()) << event;
  if (!viaText.isOk() || !full.isOk()) return {"<invalid>"};
  EXPECT_EQ(*viaText, rs.match(**full)) << event;
  return *viaText;
}

std::string projected(const std::vector<std::string>& patterns, std::string_view event) {
  EventProjection p;
  for (const auto& pattern : patterns) p.addPattern(J(pattern));
  EventReader reader;
  auto v = reader.read(p, event);
  EXPECT_TRUE(v.isOk()) << event;
  return v.isOk() ? json::serialize(**v) : "<invalid>";
}

// ---- what is kept ----------------------------------------------------------------------

TEST(EventProjection, KeepsTheNamedFieldsAndNothingElse) {
  const std::vector<std::string> patterns = {R"({"a":{"b":["x"]},"c":[{"exists":false}]})",
                                             R"({"$or":[{"o":["1"]},{"p":{"q":[2]}}]})"};
  EXPECT_EQ(
      projected(patterns, R"({"a":{"b":"x","z":1},"y":[1,{"b":2}],"o":"1","p":{"q":2,"r":3}})"),
      R"({"a":{"b":"x"},"o":"1","p":{"q":2}})");
  // A leaf keeps scalars and arrays whole, objects in it as {} (conditions never test them).
  EXPECT_EQ(projected(patterns, R"({"c":[{"d":1},2,"t",null,[true]]})"),
            R"({"c":[{},2,"t",null,[true]]})");
  EXPECT_EQ(projected(patterns, R"({"c":{"d":1}})"), R"({"c":{}})");
  // Under a nested pattern: arrays keep every element in order; a scalar becomes null.
  EXPECT_EQ(projected(patterns, R"({"a":[{"b":["y"],"q":2},"s",5,null,[{"b":"w"}],[]]})"),
            R"({"a":[{"b":["y"]},null,null,null,[{"b":"w"}],[]]})");
  EXPECT_EQ(projected(patterns, R"({"a":"x"})"), R"({"a":null})");
  // A document that is no object: nothing a pattern names is in it.
  EXPECT_EQ(projected(patterns, R"("a")"), "null");
  EXPECT_EQ(projected(patterns, R"([{"a":{"b":"x","z":1}},7])"), R"([{"a":{"b":"x"}},null])");
}

TEST(EventProjection, TheLastOfDuplicateKeysWins) {
  EXPECT_EQ(projected({R"({"a":{"b":["x"]}})"}, R"({"a":{"b":"1"},"a":{"b":"2","z":0}})"),
            R"({"a":{"b":"2"}})");
  EXPECT_EQ(projected({R"({"a":{"b":["x"]}})"}, R"({"a":{"b":"1"},"a":7})"), R"({"a":null})");
  EXPECT_EQ(projected({R"({"a":["x"]})"}, R"({"a":{"b":1},"a":"x"})"), R"({"a":"x"})");
}

TEST(EventProjection, NumbersStringsAndKeysAreAFullParsesToTheBit) {
  const char* event = R"({"n":[100,1e2,1E+2,100.0,-0,18446744073709551615,18446744073709551616,)"
                      R"(-9223372036854775809,123456789012345678901234567890,1e400,-1e400,1e-400,)"
                      R"(-1.2249144100000001E2,0.1,2.2250738585072011e-308,4.9e-324],)"
                      R"("s\u0041":"\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t"})";
  JsonArena arena;
  const json::value& full = **arena.parse(event);
  EventProjection p;
  p.addField({"n"});
  p.addField({"sA"});
  EventReader reader;
  const json::value& kept = **reader.read(p, event);
  EXPECT_EQ(kept, full);  // kinds and values: int64, uint64, double (bit for bit), strings
  const auto& a = kept.at("n").as_array();
  const auto& b = full.at("n").as_array();
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].kind(), b[i].kind()) << i;
    if (a[i].is_double()) {
      double x = a[i].get_double(), y = b[i].get_double();
      EXPECT_EQ(std::memcmp(&x, &y, sizeof(double)), 0) << i;
    }
  }
}

TEST(EventProjection, APatternItCannotReadKeepsEverything) {
  EventProjection p;
  p.addPattern(J(R"(["not", "a", "pattern"])"));
  EXPECT_TRUE(p.keepsEverything());
  EventReader reader;
  const char* event = R"({"a":{"b":[1,{"c":"d"}]},"e":null})";
  EXPECT_EQ(json::serialize(**reader.read(p, event)), json::serialize(J(event)));
  EventProjection nested;
  nested.addPattern(J(R"({"a":{"$or":"x"}})"));
  EXPECT_FALSE(nested.keepsEverything());
  EXPECT_EQ(json::serialize(**reader.read(nested, event)), R"({"a":{"b":[1,{"c":"d"}]}})");
}

// ---- what is refused -------------------------------------------------------------------

TEST(EventReader, RefusesExactlyTheTextsAFullParseRefusesWhereverTheFaultIs) {
  EventProjection p;
  p.addPattern(J(R"({"id":["x"]})"));
  // Boost.JSON's limit: 32 levels of arrays and objects.
  auto nested = [](int depth) {
    return std::string(static_cast<size_t>(depth), '[') + "1" +
           std::string(static_cast<size_t>(depth), ']');
  };
  const std::vector<std::string> texts = {
      // refused, the fault outside what is kept
      R"({"id":"x","skip":[1,]})", R"({"id":"x","skip":{"a":1,}})", R"({"id":"x","skip":tru})",
      R"({"id":"x","skip":nul})", R"({"id":"x","skip":"\x"})", R"({"id":"x","skip":"\ud800"})",
      R"({"id":"x","skip":"\udc00"})", R"({"id":"x","skip":01})", R"({"id":"x","skip":1.})",
      R"({"id":"x","skip":-})", R"({"id":"x","skip":1e99999999999})",
      R"({"id":"x","skip":0e99999999999})", R"({"id":"x","skip":1e-99999999999})",
      R"({"id":"x","skip":[1 2]})", R"({"id":"x","skip":{"a" 1}})", R"({"id":"x","skip":NaN})",
      R"({"id":"x","skip":"a)" + std::string("\x01") + R"("})",
      "{\"id\":\"x\",\"skip\":\"\xC0\x80\"}", "{\"id\":\"x\",\"skip\":\"\xED\xA0\x80\"}",
      R"({"id":"x","skip":)" + nested(32) + "}", nested(33), R"({"id":"x"} {})",
      R"({"id":"x"})" + std::string(1, '\0'), "\xEF\xBB\xBF{}", R"({"id":"x",)", "", "   ",
      R"({"id":"x","skip":[1,2})",
      R"({"id":"x","skip":// c)"
      "\n"
      R"(1})",
      // accepted: the limits are Boost's, not simdjson's or anyone else's
      nested(32), R"({"id":"x","skip":)" + nested(31) + "}", R"({"id":"x","skip":1e400})",
      R"({"id":"x","skip":123456789012345678901234567890})", R"({"id":"x","skip":"\ud83d\ude00"})",
      " {\"id\" : \"x\" } \n\t\r", R"({"id":"x","skip":1e0000000000001})"};
  EventReader reader;
  JsonArena arena;
  int refused = 0;
  for (const auto& t : texts) {
    auto full = arena.parse(t);
    auto kept = reader.read(p, t);
    ASSERT_EQ(kept.isOk(), full.isOk()) << t;
    if (!full.isOk()) {
      ++refused;
      EXPECT_EQ(kept.status().code(), Code::kInvalidArgument) << t;
      EXPECT_EQ(kept.status().message(), full.status().message()) << t;
    }
  }
  EXPECT_EQ(refused, 29);  // the list above: every refusal is one
}

// ---- matching through a projection -----------------------------------------------------

TEST(RuleSetMatchText, ExistsFalseSeesAbsenceAsAFullParseDoes) {
  auto rs = rules({{"absent", R"({"a":{"b":[{"exists":false}]}})"},
                   {"present", R"({"a":{"b":[{"exists":true}]}})"}});
  EXPECT_EQ(matchBoth(*rs, R"({"a":{"b":1}})"), Names{"present"});
  EXPECT_EQ(matchBoth(*rs, R"({"a":{"b":null}})"), Names{"present"});  // null is a value
  EXPECT_EQ(matchBoth(*rs, R"({"a":{"b":false}})"), Names{"present"});
  EXPECT_EQ(matchBoth(*rs, R"({"a":{"c":1}})"), Names{"absent"});
  EXPECT_EQ(matchBoth(*rs, R"({"a":{"b":{"x":1}}})"), Names{"absent"});  // an object is none
  EXPECT_EQ(matchBoth(*rs, R"({"a":{"b":[]}})"), Names{"absent"});
  EXPECT_EQ(matchBoth(*rs, R"({"a":{"b":[{}]}})"), Names{"absent"});
  EXPECT_EQ(matchBoth(*rs, R"({"a":"scalar"})"), Names{"absent"});
  EXPECT_EQ(matchBoth(*rs, R"({"z":1})"), Names{"absent"});
  EXPECT_EQ(matchBoth(*rs, R"({"a":[{"c":1},{"b":2}]})"), (Names{"absent", "present"}));
  EXPECT_EQ(matchBoth(*rs, R"({"a":[7,{"b":2}]})"), (Names{"absent", "present"}));
}

TEST(RuleSetMatchText, ArraysOfObjectsMatchOneElementAtATime) {
  auto rs = rules({{"kv", R"({"items":{"k":["x"],"v":[1]}})"},
                   {"nested", R"({"o":{"p":{"q":["y"]},"r":[true]}})"}});
  EXPECT_EQ(matchBoth(*rs, R"({"items":[{"k":"x","v":2},{"k":"y","v":1}]})"), Names{});
  EXPECT_EQ(matchBoth(*rs, R"({"items":[{"k":"y","v":1},{"v":1,"k":"x"}]})"), Names{"kv"});
  EXPECT_EQ(matchBoth(*rs, R"({"items":[[{"k":"x","v":[3,1]}]]})"), Names{"kv"});
  EXPECT_EQ(matchBoth(*rs, R"({"o":[{"p":[{"q":"n"},{"q":"y"}],"r":true}]})"), Names{"nested"});
  EXPECT_EQ(matchBoth(*rs, R"({"o":[{"p":{"q":"y"},"r":false},{"p":{"q":"n"},"r":true}]})"),
            Names{});
}

TEST(RuleSetMatchText, NumbersCompareAsAFullParseReadsThem) {
  auto rs = rules({{"hundred", R"({"n":[100]})"},
                   {"range", R"({"n":[{"numeric":[">",99.5,"<=",100]}]})"},
                   {"huge", R"({"n":[{"numeric":[">",1e300]}]})"},
                   {"lon", R"({"n":[{"numeric":["=",-1.2249144100000001E2]}]})"},
                   {"big", R"({"n":[18446744073709551615]})"},
                   {"not5", R"({"n":[{"anything-but":[5]}]})"}});
  for (const char* n : {"100", "1e2", "1E+2", "100.0", "1.00E2", "10000e-2"}) {
    EXPECT_EQ(matchBoth(*rs, std::string(R"({"n":)") + n + "}"),
              (Names{"hundred", "range", "not5"}))
        << n;
  }
  EXPECT_EQ(matchBoth(*rs, R"({"n":5})"), Names{});
  EXPECT_EQ(matchBoth(*rs, R"({"n":5.0})"), Names{});
  EXPECT_EQ(matchBoth(*rs, R"({"n":1e400})"), (Names{"huge", "not5"}));  // infinity
  EXPECT_EQ(matchBoth(*rs, R"({"n":-1.2249144100000001E2})"), (Names{"lon", "not5"}));
  EXPECT_EQ(matchBoth(*rs, R"({"n":-122.49144100000001})"), (Names{"lon", "not5"}));
  EXPECT_EQ(matchBoth(*rs, R"({"n":18446744073709551615})"), (Names{"big", "not5"}));
  EXPECT_EQ(matchBoth(*rs, R"({"n":18446744073709551616})"), (Names{"big", "not5"}));
  EXPECT_EQ(matchBoth(*rs, R"({"n":-0})"), Names{"not5"});
  EXPECT_EQ(matchBoth(*rs, R"({"n":[3,100]})"), (Names{"hundred", "range", "not5"}));
  EXPECT_EQ(matchBoth(*rs, R"({"n":"100"})"), Names{"not5"});  // a string is no number
}

TEST(RuleSetMatchText, NullsAndBooleansAreValues) {
  auto rs = rules({{"null", R"({"f":[null]})"},
                   {"true", R"({"f":[true]})"},
                   {"false", R"({"g":{"h":[false]}})"}});
  EXPECT_EQ(matchBoth(*rs, R"({"f":null})"), Names{"null"});
  EXPECT_EQ(matchBoth(*rs, R"({"f":true,"g":{"h":false}})"), (Names{"true", "false"}));
  EXPECT_EQ(matchBoth(*rs, R"({"f":[false,null],"g":{"h":[true]}})"), Names{"null"});
  EXPECT_EQ(matchBoth(*rs, R"({"f":"null","g":{"h":"false"}})"), Names{});
  EXPECT_EQ(matchBoth(*rs, R"({"g":null})"), Names{});
}

TEST(RuleSetMatchText, OrAlternativesNameTheirFields) {
  auto rs = rules({{"or", R"({"$or":[{"a":["1"]},{"b":{"c":["2"]}}]})"},
                   {"nested-or", R"({"d":{"$or":[{"e":[3]},{"f":{"g":[{"exists":true}]}}]}})"}});
  EXPECT_EQ(matchBoth(*rs, R"({"b":{"c":"2"}})"), Names{"or"});
  EXPECT_EQ(matchBoth(*rs, R"({"a":"1"})"), Names{"or"});
  EXPECT_EQ(matchBoth(*rs, R"({"a":"2","b":{"c":"1"}})"), Names{});
  EXPECT_EQ(matchBoth(*rs, R"({"d":{"f":{"g":0}}})"), Names{"nested-or"});
  EXPECT_EQ(matchBoth(*rs, R"({"d":[{"e":4},{"e":3}]})"), Names{"nested-or"});
}

TEST(RuleSetMatchText, AnythingButMatchesValuesThatAreNoStrings) {
  auto rs = rules({{"not-x", R"({"s":[{"anything-but":"x"}]})"},
                   {"not-prefix", R"({"s":[{"anything-but":{"prefix":"x"}}]})"},
                   {"not-7", R"({"s":[{"anything-but":[7]}]})"}});
  EXPECT_EQ(matchBoth(*rs, R"({"s":"x"})"), Names{"not-7"});
  EXPECT_EQ(matchBoth(*rs, R"({"s":null})"), (Names{"not-x", "not-prefix", "not-7"}));
  EXPECT_EQ(matchBoth(*rs, R"({"s":true})"), (Names{"not-x", "not-prefix", "not-7"}));
  EXPECT_EQ(matchBoth(*rs, R"({"s":7})"), (Names{"not-x", "not-prefix"}));
  EXPECT_EQ(matchBoth(*rs, R"({"s":["x",7]})"), (Names{"not-x", "not-prefix", "not-7"}));
  EXPECT_EQ(matchBoth(*rs, R"({"s":{"x":1}})"), Names{});  // an object is no value
  EXPECT_EQ(matchBoth(*rs, R"({"t":1})"), Names{});
}

TEST(RuleSetMatchText, DuplicateKeysMatchTheLastOne) {
  auto rs = rules({{"y", R"({"a":["y"]})"}, {"x", R"({"a":["x"]})"}});
  EXPECT_EQ(matchBoth(*rs, R"({"a":"x","a":"y"})"), Names{"y"});
  EXPECT_EQ(matchBoth(*rs, R"({"a":"y","b":1,"a":"x"})"), Names{"x"});
}

TEST(RuleSetMatchText, TextThatIsNotJsonIsInvalidArgumentEvenWhereNoRuleLooks) {
  auto rs = rules({{"r", R"({"a":["x"]})"}});
  EventReader reader;
  for (const char* t : {R"({"a":"x","b":[1,]})", R"({"a":"x"} trailing)", R"({"a":"x","b":01})",
                        R"({"a":"x","b":"\q"})"}) {
    auto m = rs->matchText(t, reader);
    ASSERT_FALSE(m.isOk()) << t;
    EXPECT_EQ(m.status().code(), Code::kInvalidArgument) << t;
    EXPECT_EQ(m.status().message().rfind("not valid JSON: ", 0), 0u) << m.status().message();
  }
  auto ok = rs->matchText(R"({"a":"x","b":[1]})", reader);  // the reader goes on after refusals
  ASSERT_TRUE(ok.isOk());
  EXPECT_EQ(*ok, Names{"r"});
}

// Random documents over the rules' field names, then random one-character edits of their
// text (most make it invalid, some keep it valid): matchText agrees with the full parse on
// every one, refusals included.
TEST(RuleSetMatchText, AgreesWithAFullParseOnRandomDocumentsAndEdits) {
  auto rs = rules({
      {"exact", R"({"a":{"b":["x"]}})"},
      {"prefix", R"({"a":{"c":[{"prefix":"p"}]},"n":[{"numeric":[">",0]}]})"},
      {"exists-not", R"({"a":{"b":[{"exists":false}]}})"},
      {"or", R"({"$or":[{"n":[1,2.5]},{"k":{"v":[null,true]}}]})"},
      {"but", R"({"k":{"v":[{"anything-but":["x",""]}]}})"},
      {"ic", R"({"a":{"c":[{"equals-ignore-case":"PX"}]},"k":{"b":[{"exists":true}]}})"},
      {"wild", R"({"b":[{"wildcard":"x*"}]})"},
  });
  std::mt19937_64 rng(16);
  const char* names[] = {"a", "b", "c", "k", "v", "n", "z"};
  const char* scalars[] = {"\"x\"", "\"px\"", "\"PX\"", "\"\"",  "1",           "2.5",   "-3e1",
                           "0",     "null",   "true",   "false", "\"\\u0078\"", "25e-1", "1.0"};
  std::function<std::string(int)> value = [&](int depth) -> std::string {
    int kind = static_cast<int>(rng() % (depth > 3 ? 2 : 5));
    if (kind < 2) return scalars[rng() % std::size(scalars)];
    std::string s = kind == 2 ? "[" : "{";
    int n = static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      if (i) s += ",";
      if (kind != 2) s += std::string("\"") + names[rng() % std::size(names)] + "\":";
      s += value(depth + 1);
    }
    return s + (kind == 2 ? "]" : "}");
  };
  const std::string edits = "{}[],:\"0e-x \\";
  int matched = 0, refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string doc = "{";
    int n = 1 + static_cast<int>(rng() % 5);
    for (int f = 0; f < n; ++f) {
      if (f) doc += ",";
      doc += std::string("\"") + names[rng() % std::size(names)] + "\":" + value(0);
    }
    doc += "}";
    matched += static_cast<int>(matchBoth(*rs, doc).size());
    std::string edited = doc;
    size_t at = rng() % edited.size();
    switch (rng() % 3) {
      case 0: edited.erase(at, 1); break;
      case 1: edited.insert(at, 1, edits[rng() % edits.size()]); break;
      default: edited[at] = edits[rng() % edits.size()]; break;
    }
    if (matchBoth(*rs, edited) == Names{"<invalid>"}) ++refused;
  }
  EXPECT_GT(matched, 3000);  // real matches, not only empty answers
  EXPECT_GT(refused, 1000);  // and many refusals
  EXPECT_LT(refused, 3000);  // and edits that stayed valid
}

}  // namespace
}  // namespace memberflow
