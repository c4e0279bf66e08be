// The member rules of DESIGN.md §3.1 and the canonical representation of §3.3.
#include "domain/member.h"

#include <gtest/gtest.h>

#include "common/time.h"
#include "domain/change_command.h"
#include "domain/member_event.h"
#include "domain/transform.h"

namespace memberflow {
namespace {

constexpr int64_t kToday = 20416;  // 2025-11-24

json::object baseRow() {
  return json::parse(R"({"member_id":"M-1","first_name":"Ada","last_name":"Lovelace",
    "birth_date":"1990-01-31","gender":"F","status":"A"})")
      .as_object();
}

Result<Member> fromRow(const std::function<void(json::object&)>& edit) {
  json::object r = baseRow();
  edit(r);
  return memberFromRow(r, kToday);
}

std::string code(const Result<Member>& r) { return r.isOk() ? "ok" : reasonCode(r.status()); }

TEST(MemberRules, PhoneNormalisation) {
  EXPECT_EQ(*rules::phone(std::string("515-555-0100")).value(), "+15155550100");
  EXPECT_EQ(*rules::phone(std::string("(515) 555 0100")).value(), "+15155550100");
  EXPECT_EQ(*rules::phone(std::string("1 515 555 0100")).value(), "+15155550100");
  EXPECT_EQ(*rules::phone(std::string(" +44 20 7946 0000 ")).value(), "+44 20 7946 0000");
  EXPECT_EQ(*rules::phone(std::string("2 515 555 0100")).value(), "2 515 555 0100");
  EXPECT_FALSE(rules::phone(std::string("555-CALL-NOW")).isOk());
  EXPECT_FALSE(rules::phone(std::string("---")).isOk());
  EXPECT_FALSE(rules::phone(std::nullopt).value().has_value());
}

TEST(MemberRules, FieldRules) {
  EXPECT_EQ(code(fromRow([](auto& r) { r["state"] = "ia"; })), "ok");
  EXPECT_EQ(*fromRow([](auto& r) { r["state"] = "ia"; })->address.state, "IA");
  EXPECT_EQ(code(fromRow([](auto& r) { r["state"] = "Iowa"; })), "invalid_state");
  EXPECT_EQ(code(fromRow([](auto& r) { r["postal_code"] = "50309-1234"; })), "ok");
  EXPECT_EQ(code(fromRow([](auto& r) { r["postal_code"] = "5030"; })), "invalid_postal_code");
  EXPECT_EQ(code(fromRow([](auto& r) { r["postal_code"] = "50309-12"; })), "invalid_postal_code");
  EXPECT_EQ(fromRow([](auto& r) { r["country"] = "ca"; })->address.country, "CA");
  EXPECT_EQ(code(fromRow([](auto& r) { r["country"] = "XX"; })), "invalid_country");
  EXPECT_EQ(code(fromRow([](auto& r) { r["email"] = "a@b@c"; })), "invalid_email");
  EXPECT_EQ(code(fromRow([](auto& r) { r["email"] = "@b"; })), "invalid_email");
  EXPECT_EQ(code(fromRow([](auto& r) { r["email"] = "a@"; })), "invalid_email");
  EXPECT_EQ(code(fromRow([](auto& r) { r["gender"] = "Q"; })), "invalid_gender");
  EXPECT_EQ(code(fromRow([](auto& r) { r["status"] = "Z"; })), "invalid_status");
  EXPECT_EQ(code(fromRow([](auto& r) { r["relationship"] = "cousin"; })), "invalid_relationship");
  EXPECT_EQ(code(fromRow([](auto& r) { r.erase("last_name"); })), "missing_field");
  EXPECT_EQ(code(fromRow([](auto& r) { r["first_name"] = "   "; })), "missing_field");
  EXPECT_EQ(code(fromRow([](auto& r) { r["first_name"] = std::string(101, 'a'); })), "too_long");
  EXPECT_EQ(code(fromRow([](auto& r) { r["first_name"] = 42; })), "invalid_type");
  EXPECT_EQ(code(fromRow([](auto& r) { r["city"] = std::string(201, 'c'); })), "too_long");
  EXPECT_EQ(code(fromRow([](auto& r) { r["plan_id"] = std::string(65, 'p'); })), "too_long");
}

TEST(MemberRules, NamesCountCodePointsNotBytes) {
  std::string hundredKanji;
  for (int i = 0; i < 100; ++i) hundredKanji += "山";
  EXPECT_EQ(code(fromRow([&](auto& r) { r["last_name"] = hundredKanji; })), "ok");
  EXPECT_EQ(code(fromRow([&](auto& r) { r["last_name"] = hundredKanji + "山"; })), "too_long");
  EXPECT_EQ(code(fromRow([](auto& r) { r["first_name"] = "\xff\xfe"; })), "invalid_encoding");
}

TEST(MemberRules, BirthDates) {
  EXPECT_EQ(fromRow([](auto& r) { r["birth_date"] = 0; })->birthDate, "1970-01-01");
  EXPECT_EQ(fromRow([](auto& r) { r["birth_date"] = -1; })->birthDate, "1969-12-31");
  EXPECT_EQ(code(fromRow([](auto& r) { r["birth_date"] = kToday + 1; })), "invalid_birth_date");
  EXPECT_EQ(code(fromRow([](auto& r) { r["birth_date"] = "1899-12-31"; })), "invalid_birth_date");
  EXPECT_EQ(code(fromRow([](auto& r) { r["birth_date"] = "1990-02-30"; })), "invalid_date");
  EXPECT_EQ(code(fromRow([](auto& r) { r.erase("birth_date"); })), "missing_field");
}

TEST(MemberRules, CoverageDates) {
  auto m = fromRow([](auto& r) {
    r["coverage_start"] = 19723;
    r["coverage_end"] = "2024-12-31";
  });
  ASSERT_TRUE(m.isOk());
  EXPECT_EQ(m->coverage.startDate, "2024-01-01");
  EXPECT_EQ(code(fromRow([](auto& r) {
              r["coverage_start"] = "2024-02-01";
              r["coverage_end"] = "2024-01-01";
            })),
            "invalid_coverage");
}

TEST(MemberRules, UpdatedAtIsNotContent) {
  auto a = fromRow([](auto& r) { r["updated_at"] = 1; });
  auto b = fromRow([](auto& r) { r["updated_at"] = 2; });
  ASSERT_TRUE(a.isOk() && b.isOk());
  EXPECT_EQ(*a, *b);
}

TEST(CanonicalMember, RoundTripsAndRejectsUnknownFields) {
  auto m = fromRow([](auto& r) {
    r["phone"] = "5155550100";
    r["coverage_start"] = "2024-01-01";
  });
  ASSERT_TRUE(m.isOk());
  json::value j = memberJson(*m);
  auto back = memberFromJson(j, std::string_view("M-1"), kToday);
  ASSERT_TRUE(back.isOk()) << back.status().toString();
  EXPECT_EQ(*back, *m);

  json::object withExtra = j.as_object();
  withExtra["ssn"] = "x";
  EXPECT_EQ(reasonCode(memberFromJson(withExtra, std::nullopt, kToday).status()), "unknown_field");
  json::object nested = j.as_object();
  nested["name"].as_object()["nick"] = "x";
  EXPECT_EQ(reasonCode(memberFromJson(nested, std::nullopt, kToday).status()), "unknown_field");
  EXPECT_EQ(reasonCode(memberFromJson(j, std::string_view("OTHER"), kToday).status()),
            "member_id_mismatch");
  // Read-only bookkeeping fields of a GET response are accepted and ignored.
  StoredMember s{*m, 3, 99, 1000, false};
  EXPECT_TRUE(memberFromJson(storedMemberJson(s), std::nullopt, kToday).isOk());
}

TEST(CanonicalMember, ChangedFields) {
  auto a = fromRow([](auto&) {});
  auto b = fromRow([](auto& r) {
    r["last_name"] = "Byron";
    r["city"] = "London";
  });
  auto f = changedFields(&*a, &*b);
  EXPECT_EQ(f, (std::vector<std::string>{"name.last", "address.city"}));
  EXPECT_TRUE(changedFields(&*a, &*a).empty());
  EXPECT_EQ(changedFields(nullptr, &*a).size(), 21u);
}

// Every character that JSON or the serializer treats apart: the control characters (short
// escapes and \u00xx), the quote, the backslash, DEL and the slash (both left as they are),
// and multi-byte UTF-8.
std::string awkwardText() {
  std::string t;
  for (int c = 0; c < 0x20; ++c) t += static_cast<char>(c);
  t += "\"\\/\x7f plain ü 漢字 😀";
  return t;
}

std::vector<Member> writerCases() {
  Member full;
  full.memberId = "M-1";
  full.name = {"Ada", "Augusta", "Lovelace", "Jr"};
  full.birthDate = "1990-01-31";
  full.gender = Gender::kFemale;
  full.contact = {"ada@example.org", "+15551234567"};
  full.address = {"1 Main St", "Apt 2", "Springfield", "IL", "62701", "US"};
  full.coverage = {"P-1", "G-1", "S-1", "self", "2024-01-01", "2024-12-31"};
  full.status = MemberStatus::kTerminated;
  Member sparse;  // every optional empty: nulls
  sparse.memberId = "M-2";
  sparse.name.first = "B";
  sparse.name.last = "C";
  sparse.birthDate = "2000-02-29";
  Member awkward = full;  // the writer escapes, whatever the rules would let through
  awkward.name.first = awkwardText();
  awkward.name.suffix = awkwardText();
  awkward.address.line2 = "";
  awkward.coverage.endDate = awkwardText();
  return {full, sparse, awkward};
}

TEST(MemberJson, TheDirectWriterGivesTheSerializersBytes) {
  for (const Member& m : writerCases()) {
    EXPECT_EQ(memberJsonText(m), json::serialize(memberJson(m))) << m.memberId;
  }
  std::string s;
  appendJsonString(s, awkwardText());
  EXPECT_EQ(s, json::serialize(json::value(awkwardText())));
  EXPECT_EQ(json::parse(s).as_string(), awkwardText());
  // Bytes that are not UTF-8 go through as they are, as the serializer leaves them.
  std::string raw = "a\xff\xc3(\x80z";
  std::string t;
  appendJsonString(t, raw);
  EXPECT_EQ(t, json::serialize(json::value(raw)));
}

TEST(MemberJson, TheEventWriterGivesTheSerializersBytes) {
  for (const Member& m : writerCases()) {
    MemberEvent e;
    e.id = "0b1e7a52-0000-4000-8000-000000000001";
    e.type = "member.updated";
    e.memberId = m.memberId;
    e.timeMs = 1764000000123;
    e.after = m;
    e.version = 7;
    e.sourceSequence = 9007199254740993;  // beyond a double's integers
    e.changedFields = {"name.first", awkwardText()};
    e.lineage =
        json::object{{"topic", "t"}, {"partition", 3}, {"offset", -1}, {"x", awkwardText()}};
    EXPECT_EQ(cloudEventJson(e, json::serialize(e.lineage)), json::serialize(cloudEvent(e)))
        << m.memberId;
    e.after.reset();  // a delete: data.member null
    e.changedFields.clear();
    e.type = "member.deleted";
    EXPECT_EQ(cloudEventJson(e, json::serialize(e.lineage)), json::serialize(cloudEvent(e)))
        << m.memberId;
  }
}

TEST(MemberJson, AQueuedCommandIsTheDocumentItAlwaysWas) {
  for (const Member& m : writerCases()) {
    for (int64_t tsMs : {int64_t{0}, int64_t{1764000000000}}) {
      ChangeCommand c;
      c.messageId = "msg-" + awkwardText();
      c.memberId = m.memberId;
      c.op = ChangeCommand::Op::kUpsert;
      c.sourceSequence = -5;
      c.member = m;
      c.lineage = {"topic-" + awkwardText(), 2, -42, "raw/" + awkwardText(), 7};
      c.receivedAtMs = 1764000000999;
      c.sourceTsMs = tsMs;
      json::object want{{"messageId", c.messageId},
                        {"memberId", c.memberId},
                        {"op", "upsert"},
                        {"sourceSequence", c.sourceSequence},
                        {"member", memberJson(m)},
                        {"lineage", lineageJson(c.lineage)},
                        {"receivedAt", isoMillis(c.receivedAtMs)}};
      if (tsMs != 0) want["sourceTsMs"] = tsMs;
      EXPECT_EQ(serializeCommand(c), json::serialize(want));
      c.op = ChangeCommand::Op::kDelete;
      c.member.reset();
      want["op"] = "delete";
      want["member"] = nullptr;
      EXPECT_EQ(serializeCommand(c), json::serialize(want));
    }
  }
}

}  // namespace
}  // namespace memberflow
