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

TEST(DynamoDbJson, ReadsALedgerItemOfBatchGetItemByItsOwnMessageId) {
  auto e = parseLedgerEntry(
      J(R"({"messageId":{"S":"k2"},"claimedAt":{"N":"5"},"outcome":{"S":"skipped"}})").as_object());
  ASSERT_TRUE(e.isOk());
  EXPECT_EQ(e->outcome.messageId, "k2");
  EXPECT_EQ(e->outcome.outcome, MessageOutcome::kSkipped);
  EXPECT_EQ(e->claimedAtMs, 5);
  EXPECT_EQ(parseLedgerEntry(J(R"({"outcome":{"S":"?"}})").as_object()).status().code(),
            Code::kInternal);
}

// A BatchGetItem that answers part of its keys and leaves the rest unprocessed, then the rest.
TEST(DynamoDbJson, BatchGetItemsAsksAgainForUnprocessedKeysAfterABackoff) {
  std::vector<std::string> sent;
  std::vector<int> backoffs;
  auto send = [&](const json::object& body) -> Result<json::value> {
    sent.push_back(json::serialize(body));
    if (sent.size() == 1) {
      return J(R"({"Responses":{"t":[{"id":{"S":"a"}}]},)"
               R"("UnprocessedKeys":{"t":{"Keys":[{"id":{"S":"b"}}],"ConsistentRead":true}}})");
    }
    return J(R"({"Responses":{"t":[{"id":{"S":"b"}}]},"UnprocessedKeys":{}})");
  };
  json::array keys{json::object{{"id", json::object{{"S", "a"}}}},
                   json::object{{"id", json::object{{"S", "b"}}}}};
  auto items = batchGetItems("t", keys, 3, send, [&](int a) { backoffs.push_back(a); });
  ASSERT_TRUE(items.isOk()) << items.status().toString();
  ASSERT_EQ(items->size(), 2u);
  EXPECT_EQ(backoffs, std::vector<int>{1});
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0], R"({"RequestItems":{"t":{"Keys":[{"id":{"S":"a"}},{"id":{"S":"b"}}],)"
                     R"("ConsistentRead":true}}})");
  EXPECT_EQ(sent[1], R"({"RequestItems":{"t":{"Keys":[{"id":{"S":"b"}}],"ConsistentRead":true}}})");
}

TEST(DynamoDbJson, BatchGetItemsGivesUpOnKeysLeftAfterItsAttemptsAndRefusesMalformedAnswers) {
  int sends = 0;
  auto stuck = [&](const json::object&) -> Result<json::value> {
    ++sends;
    return J(R"({"UnprocessedKeys":{"t":{"Keys":[{"id":{"S":"a"}}]}}})");
  };
  json::array one{json::object{{"id", json::object{{"S", "a"}}}}};
  EXPECT_EQ(batchGetItems("t", one, 3, stuck, [](int) {}).status().code(), Code::kUnavailable);
  EXPECT_EQ(sends, 3);
  auto malformed = [](const json::object&) -> Result<json::value> {
    return J(R"({"Responses":{"t":["a"]}})");
  };
  EXPECT_EQ(batchGetItems("t", one, 3, malformed, [](int) {}).status().code(), Code::kInternal);
  auto refused = [](const json::object&) -> Result<json::value> {
    return Status::unavailable("throttled");
  };
  EXPECT_EQ(batchGetItems("t", one, 3, refused, [](int) {}).status().code(), Code::kUnavailable);
  json::array many;
  for (int i = 0; i <= 100; ++i) many.push_back(json::object{{"id", json::object{{"S", "k"}}}});
  EXPECT_EQ(batchGetItems("t", many, 3, refused, [](int) {}).status().code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(batchGetItems("t", json::array{}, 3, refused, [](int) {})->empty());
}

}  // namespace
}  // namespace memberflow::aws
