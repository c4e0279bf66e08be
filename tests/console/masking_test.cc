#include "console/masking.h"

#include <gtest/gtest.h>

namespace memberflow::console {
namespace {

json::value parse(const char* text) { return *parseJson(text); }

TEST(Masking, KeepsIdsAndCoordinatesAndMasksEverythingElse) {
  auto v = masked(parse(R"({"messageId":"coresys:7","memberId":"M1","reason":"invalid_email",
      "lineage":{"topic":"t","partition":1,"offset":93,"archiveKey":"raw/x.gz","archiveLine":94},
      "record":{"partition":1,"offset":93,"key":{"member_id":"M1"},
                "value":{"after":{"member_id":"M1","first_name":"Renata","birth_date":7000,
                                  "email":"r@example.org","active":true,"phone":null},
                         "source":{"name":"coresys","lsn":12}}}})"));
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("messageId"), "coresys:7");
  EXPECT_EQ(o.at("memberId"), "M1");
  EXPECT_EQ(o.at("lineage").at("archiveLine"), 94);
  const auto& after = o.at("record").at("value").at("after").as_object();
  EXPECT_EQ(after.at("member_id"), "M1");
  EXPECT_EQ(after.at("first_name"), kMask);
  EXPECT_EQ(after.at("birth_date"), kMask);  // numbers too: a date may be a day count
  EXPECT_EQ(after.at("email"), kMask);
  EXPECT_TRUE(after.at("active").as_bool());
  EXPECT_TRUE(after.at("phone").is_null());
  // Debezium's source block is metadata, kept whole.
  EXPECT_EQ(o.at("record").at("value").at("source").at("name"), "coresys");
}

TEST(Masking, MasksInsideJsonHeldInAString) {
  auto v =
      masked(parse(R"({"value":"{\"after\":{\"last_name\":\"Okafor\",\"member_id\":\"M2\"}}"})"));
  std::string text = json::serialize(v);
  EXPECT_EQ(text.find("Okafor"), std::string::npos) << text;
  EXPECT_EQ(v.at("value").at("after").at("member_id"), "M2");
}

TEST(Masking, ARowColumnNamedLikeAnIdOrAReasonIsMaskedAndSoIsTheSourcesQuery) {
  auto v = masked(parse(R"({"reason":"invalid_email","value":{"after":{"member_id":"M3",
      "message":"call Renata","type":"Gold","id":"4111","source":"referral","version":7},
      "source":{"name":"coresys","table":"member","query":"UPDATE member SET last_name='Okafor'"}}})"));
  std::string text = json::serialize(v);
  for (const char* value : {"call Renata", "Gold", "4111", "referral", "Okafor"})
    EXPECT_EQ(text.find(value), std::string::npos) << value << " in " << text;
  EXPECT_EQ(v.at("value").at("after").at("member_id"), "M3");
  EXPECT_EQ(v.at("value").at("after").at("version"), kMask);
  EXPECT_EQ(v.at("value").at("source").at("table"), "member");
  EXPECT_EQ(v.at("reason"), "invalid_email");
}

TEST(Masking, AFieldNobodyListedIsMasked) {
  auto v = masked(parse(R"({"newly_added_field":"Renata Okafor","nested":[{"x":"y"}]})"));
  EXPECT_EQ(v.at("newly_added_field"), kMask);
  EXPECT_EQ(v.at("nested").as_array()[0].at("x"), kMask);
  EXPECT_EQ(maskedText("not json: Renata"), kMask);
}

}  // namespace
}  // namespace memberflow::console
