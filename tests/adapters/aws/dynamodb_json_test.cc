// DynamoDB's JSON items and scans as the ledger reads them:
// malformed bodies are errors of the call, never exceptions or undefined behaviour
// (what fuzz/ found is among these cases).
#include "adapters/aws/dynamodb_json.h"

#include <gtest/gtest.h>

#include <limits>

namespace memberflow::aws {
namespace {

json::value J(const char* text) { return json::parse(text); }

TEST(DynamoDbJson, ReadsALedgerItem) {
  auto e = parseLedgerItem(
      J(R"({"Item":{"messageId":{"S":"k"},"claimedAt":{"N":"5"},"completedAt":{"N":"6"},)"
        R"("expiresAt":{"N":"7"},"outcome":{"S":"enqueued"},"archiveLine":{"N":"2"}}})"),
      "k");
  ASSERT_TRUE(e.isOk());
  EXPECT_EQ(e->outcome.outcome, MessageOutcome::kEnqueued);
  EXPECT_EQ(e->outcome.archiveLine, 2);
  EXPECT_EQ(e->claimedAtMs, 5);
  EXPECT_EQ(e->completedAtMs, 6);
  EXPECT_EQ(e->expiresAtMs, 7000);
  EXPECT_EQ(parseLedgerItem(J("{}"), "k").status().code(), Code::kNotFound);
}

TEST(DynamoDbJson, AnExpiryBeyondInt64MillisecondsSaturates) {  // was signed overflow (UB)
  auto e = parseLedgerItem(J(R"({"Item":{"expiresAt":{"N":"9223372036854775807"}}})"), "k");
  ASSERT_TRUE(e.isOk());
  EXPECT_EQ(e->expiresAtMs, std::numeric_limits<int64_t>::max());
  e = parseLedgerItem(J(R"({"Item":{"expiresAt":{"N":"-9223372036854775807"}}})"), "k");
  EXPECT_EQ(e->expiresAtMs, std::numeric_limits<int64_t>::min());
}

TEST(DynamoDbJson, ScanPagesAndMalformedScans) {
  auto p = parseLedgerScanPage(J(R"({"Items":[{"messageId":{"S":"a"}},{"messageId":{"S":"b"}}],)"
                                 R"("LastEvaluatedKey":{"messageId":{"S":"b"}}})"));
  ASSERT_TRUE(p.isOk());
  EXPECT_EQ(p->messageIds, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(p->lastEvaluatedKey.is_object());
  EXPECT_TRUE(parseLedgerScanPage(J(R"({"Items":[]})"))->lastEvaluatedKey.is_null());
  EXPECT_EQ(parseLedgerScanPage(J("[]")).status().code(), Code::kInternal);
  EXPECT_EQ(parseLedgerScanPage(J(R"({"Items":["a"]})")).status().code(), Code::kInternal);
  EXPECT_EQ(parseLedgerScanPage(J(R"({"LastEvaluatedKey":"b"})")).status().code(), Code::kInternal);
  EXPECT_EQ(parseLedgerItem(J("[]"), "k").status().code(), Code::kInternal);
}

}  // namespace
}  // namespace memberflow::aws
