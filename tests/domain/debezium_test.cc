// Decoding of Debezium envelopes: the corpora's real samples (customers tables of the
// Debezium tutorial and test fixtures) and hand-made member events.
#include "domain/debezium.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/crypto.h"
#include "domain/member.h"
#include "domain/transform.h"
#include "support/test_support.h"

namespace memberflow {
namespace {

using memberflow::testing::readFile;

SourceRecord rec(std::optional<std::string> key, std::optional<std::string> value) {
  SourceRecord r;
  r.topic = "member.changes";
  r.key = std::move(key);
  r.value = std::move(value);
  return r;
}

std::string memberEnvelope(const std::string& op, const std::string& after, int64_t lsn) {
  return R"({"before":null,"after":)" + after +
         R"(,"source":{"name":"coresys","ts_ms":1700000000000,"table":"member","lsn":)" +
         std::to_string(lsn) + R"(,"txId":7},"op":")" + op + R"(","ts_ms":1700000000005})";
}

const char* kRow =
    R"({"member_id":"M1","first_name":" Ada ","last_name":"Lovelace","birth_date":7335,)"
    R"("gender":"F","email":"ada@example.org","phone":"515-555-0100","state":"ia",)"
    R"("postal_code":"50309","status":"A","updated_at":1700000000000,"shoe_size":9})";

class CorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::corporaDir();
    if (dir_.empty()) GTEST_SKIP() << "../shared/corpora is absent";
    dir_ += "/debezium";
  }
  std::string dir_;
};

TEST_F(CorpusTest, DecodesEveryNormalizedValueSampleWithItsOp) {
  auto index = parseJson(readFile(dir_ + "/INDEX.json"));
  ASSERT_TRUE(index.isOk());
  int checked = 0;
  for (const auto& item : index->at("items").as_array()) {
    const auto& o = item.as_object();
    if (!o.at("op").is_string()) continue;  // keys and transaction markers
    std::string op(o.at("op").as_string());
    std::string file(o.at("normalized_file").as_string());
    SourceRecord r = rec(std::nullopt, readFile(dir_ + "/" + file));
    DecodedChange d = decodeChange(r);
    SCOPED_TRACE(file);
    if (op == "t" || op == "m") {
      // Truncate and message events are not row changes: rejected with a clear reason.
      EXPECT_EQ(reasonCode(d.status), "unsupported_op");
      continue;
    }
    EXPECT_STREQ(changeOpName(d.op), op.c_str());
    // Older samples carry ts_sec, and one has an empty source: without a source position
    // there is no ordering guard, so they are rejected for that. The others are customers,
    // not members: the envelope decodes, then the row is rejected for its missing member_id.
    auto sample = parseJson(readFile(dir_ + "/" + file));
    const auto& src = unwrapPayload(*sample).as_object().at("source").as_object();
    bool hasPosition =
        src.contains("lsn") || (src.contains("ts_ms") && src.at("ts_ms").is_number());
    EXPECT_EQ(reasonCode(d.status), hasPosition ? "missing_member_id" : "missing_source_position")
        << d.status.message();
    EXPECT_FALSE(d.messageId.empty());
    ++checked;
  }
  EXPECT_GE(checked, 8);
}

TEST_F(CorpusTest, PostgresSamplesUseLsnForIdAndSequence) {
  SourceRecord r =
      rec(std::nullopt, readFile(dir_ + "/normalized/postgresql-04-delete-value.json"));
  DecodedChange d = decodeChange(r);
  EXPECT_EQ(d.op, ChangeOp::kDelete);
  EXPECT_EQ(d.sourceSequence, 46523128);
  EXPECT_EQ(d.messageId, "PostgreSQL_server:46523128");
  ASSERT_TRUE(d.before.has_value());
}

TEST_F(CorpusTest, SerdeFixturesWithAndWithoutSchemaDecodeAlike) {
  // serde-unwrapped.json is a bare row (the ExtractNewRecordState shape): no envelope.
  DecodedChange bare =
      decodeChange(rec(std::nullopt, readFile(dir_ + "/test-resources/serde-unwrapped.json")));
  EXPECT_EQ(reasonCode(bare.status), "missing_op");
  for (const char* f : {"serde-with-schema.json", "serde-without-schema.json", "serde-update.json",
                        "serde-unknown-property.json"}) {
    SCOPED_TRACE(f);
    SourceRecord r = rec(std::nullopt, readFile(dir_ + "/test-resources/" + f));
    DecodedChange d = decodeChange(r);
    EXPECT_TRUE(d.op == ChangeOp::kUpdate || d.op == ChangeOp::kCreate || d.op == ChangeOp::kRead)
        << changeOpName(d.op) << " " << d.status.toString();
    // No member_id in these fixtures: a stable reason, never a crash.
    EXPECT_EQ(reasonCode(d.status), "missing_member_id");
  }
}

TEST_F(CorpusTest, MysqlTombstoneSampleIsATombstone) {
  auto key = readFile(dir_ + "/normalized/mysql-tutorial-07-tombstone-key.json");
  DecodedChange d = decodeChange(rec(key, std::nullopt));
  EXPECT_TRUE(d.status.isOk());
  EXPECT_EQ(d.op, ChangeOp::kTombstone);
}

TEST(Debezium, DecodesAMemberCreateAndTransformsIt) {
  SourceRecord r = rec(R"({"member_id":"M1"})", memberEnvelope("c", kRow, 4711));
  DecodedChange d = decodeChange(r);
  ASSERT_TRUE(d.status.isOk()) << d.status.toString();
  EXPECT_EQ(d.memberId, "M1");
  EXPECT_EQ(d.sourceSequence, 4711);
  EXPECT_EQ(d.messageId, "coresys:4711");
  auto cmd = toCommand(d, Lineage{"member.changes", 2, 9, "raw/x", 3}, 1, 20000);
  ASSERT_TRUE(cmd.isOk()) << cmd.status().toString();
  EXPECT_EQ(cmd->op, ChangeCommand::Op::kUpsert);
  const Member& m = *cmd->member;
  EXPECT_EQ(m.name.first, "Ada");  // trimmed
  EXPECT_EQ(m.birthDate, "1990-01-31");
  EXPECT_EQ(m.gender, Gender::kFemale);
  EXPECT_EQ(m.contact.phone, "+15155550100");
  EXPECT_EQ(m.address.state, "IA");
  EXPECT_EQ(m.address.country, "US");  // default
  EXPECT_EQ(m.status, MemberStatus::kActive);
  // The command survives the queue.
  auto back = parseCommand(serializeCommand(*cmd), 20000);
  ASSERT_TRUE(back.isOk()) << back.status().toString();
  EXPECT_EQ(*back->member, m);
  EXPECT_EQ(back->lineage, cmd->lineage);
}

TEST(Debezium, SchemaWrapperIsOptional) {
  std::string env = memberEnvelope("u", kRow, 10);
  DecodedChange a = decodeChange(rec(R"({"member_id":"M1"})", env));
  DecodedChange b = decodeChange(rec(R"({"schema":{"type":"struct"},"payload":{"member_id":"M1"}})",
                                     R"({"schema":{"type":"struct"},"payload":)" + env + "}"));
  ASSERT_TRUE(a.status.isOk());
  ASSERT_TRUE(b.status.isOk()) << b.status.toString();
  EXPECT_EQ(a.op, b.op);
  EXPECT_EQ(a.memberId, b.memberId);
  EXPECT_EQ(a.messageId, b.messageId);
}

TEST(Debezium, MessageIdPrefersHeaderThenLsnThenHash) {
  SourceRecord r = rec(R"({"member_id":"M1"})", memberEnvelope("c", kRow, 5));
  r.headers = {{"ce_id", "evt-9"}};
  EXPECT_EQ(decodeChange(r).messageId, "evt-9");
  r.headers = {{"id", "evt-1"}, {"ce_id", "evt-9"}};
  EXPECT_EQ(decodeChange(r).messageId, "evt-1");
  r.headers.clear();
  EXPECT_EQ(decodeChange(r).messageId, "coresys:5");
  std::string noLsn =
      R"({"after":)" + std::string(kRow) + R"(,"source":{"name":"c","ts_ms":99},"op":"c"})";
  SourceRecord h = rec("k", noLsn);
  std::string material = std::string("k") + '\0' + noLsn;
  DecodedChange d = decodeChange(h);
  EXPECT_EQ(d.messageId, crypto::sha256Hex(material));
  EXPECT_EQ(d.sourceSequence, 99);  // ts_ms when there is no lsn
}

TEST(Debezium, MessageIdOfIsDecodeChangesMessageId) {
  std::string noLsn =
      R"({"after":)" + std::string(kRow) + R"(,"source":{"name":"c","ts_ms":99},"op":"c"})";
  std::string wrapped = R"({"schema":{},"payload":)" + memberEnvelope("u", kRow, 8) + "}";
  std::vector<SourceRecord> records = {
      rec(R"({"member_id":"M1"})", memberEnvelope("c", kRow, 5)),  // source name and lsn
      rec(R"({"member_id":"M1"})", wrapped),                       // the schema wrapper
      rec("k", noLsn),                                             // no lsn: the hash
      rec(R"({"member_id":"M1"})", std::nullopt),                  // a tombstone
      rec("k", "{not json"),
      rec("k", "[1,2]"),
      rec("k", R"({"op":"c","after":{"member_id":"M1"}})"),     // no source
      rec("k", R"({"op":"c","source":"coresys"})"),             // a source not an object
      rec("k", R"({"op":"x","source":{"name":"a","lsn":3}})"),  // rejected later: its id
      rec(std::nullopt, std::string(101, '{')),                 // oversized below
  };
  SourceRecord headed = records[0];
  headed.headers = {{"ce_id", "evt-9"}};
  records.push_back(headed);
  DecodeOptions o;
  o.maxValueBytes = 100;
  for (const auto& r : records) {
    SCOPED_TRACE(r.value.value_or("null").substr(0, 60));
    EXPECT_EQ(messageIdOf(r), decodeChange(r).messageId);
    EXPECT_EQ(messageIdOf(r, o), decodeChange(r, o).messageId);
  }
  EXPECT_EQ(messageIdOf(records[0]), "coresys:5");
  EXPECT_EQ(messageIdOf(records[1]), "coresys:8");
  EXPECT_EQ(messageIdOf(records[8]), "a:3");
  EXPECT_EQ(messageIdOf(headed), "evt-9");
}

TEST(Debezium, TombstoneAndDelete) {
  DecodedChange t = decodeChange(rec(R"({"member_id":"M1"})", std::nullopt));
  EXPECT_TRUE(t.status.isOk());
  EXPECT_EQ(t.op, ChangeOp::kTombstone);
  EXPECT_EQ(t.memberId, "M1");
  std::string del = R"({"before":)" + std::string(kRow) +
                    R"(,"after":null,"source":{"name":"coresys","ts_ms":1,"lsn":77},"op":"d"})";
  DecodedChange d = decodeChange(rec(R"({"member_id":"M1"})", del));
  ASSERT_TRUE(d.status.isOk());
  EXPECT_EQ(d.op, ChangeOp::kDelete);
  auto cmd = toCommand(d, {}, 0, 20000);
  ASSERT_TRUE(cmd.isOk());
  EXPECT_EQ(cmd->op, ChangeCommand::Op::kDelete);
  EXPECT_FALSE(cmd->member.has_value());
}

TEST(Debezium, RejectionsHaveStableReasonCodes) {
  struct Case {
    std::optional<std::string> key, value;
    const char* code;
  } cases[] = {
      {"k", "{not json", "malformed_json"},
      {"k", "[1,2]", "not_an_envelope"},
      {"k", R"({"after":{},"source":{"ts_ms":1}})", "missing_op"},
      {"k", R"({"op":"x","after":{},"source":{"ts_ms":1}})", "unsupported_op"},
      {"k", R"({"op":"c","after":{"member_id":"M1"}})", "missing_source"},
      {"k", R"({"op":"c","after":{"member_id":"M1"},"source":{"name":"x"}})",
       "missing_source_position"},
      {"k", R"({"op":"c","after":null,"source":{"ts_ms":1}})", "missing_row"},
      {"k", R"({"op":"c","after":"row","source":{"ts_ms":1}})", "invalid_row"},
      {R"({"member_id":"M2"})", memberEnvelope("c", kRow, 1), "key_mismatch"},
      {"k", R"({"op":"c","after":{"member_id":"bad id!"},"source":{"ts_ms":1}})",
       "invalid_member_id"},
  };
  for (const auto& c : cases) {
    DecodedChange d = decodeChange(rec(c.key, c.value));
    EXPECT_EQ(reasonCode(d.status), c.code) << c.value.value_or("null");
    EXPECT_FALSE(d.messageId.empty());
  }
}

TEST(Debezium, OversizedRecordsAreRejectedWithoutParsing) {
  DecodeOptions o;
  o.maxValueBytes = 100;
  DecodedChange d = decodeChange(rec("k", std::string(101, '{')), o);
  EXPECT_EQ(reasonCode(d.status), "oversized");
}

TEST(Debezium, MessagesNeverEchoMemberContent) {
  std::string row = std::string(kRow);
  row.replace(row.find("ada@example.org"), 15, "secret-address");
  DecodedChange d = decodeChange(rec(R"({"member_id":"M1"})", memberEnvelope("c", row, 3)));
  auto cmd = toCommand(d, {}, 0, 20000);
  ASSERT_FALSE(cmd.isOk());
  EXPECT_EQ(reasonCode(cmd.status()), "invalid_email");
  EXPECT_EQ(cmd.status().message().find("secret-address"), std::string::npos);
}

}  // namespace
}  // namespace memberflow
