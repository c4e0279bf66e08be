// SQS's JSON answers as the SQS adapter reads them:
// malformed bodies are errors of the call, never exceptions or undefined behaviour
// (what fuzz/ found is among these cases).
#include "adapters/aws/sqs_json.h"

#include <gtest/gtest.h>

namespace memberflow::aws {
namespace {

json::value J(const char* text) { return json::parse(text); }

TEST(SqsJson, ReadsReceivedMessagesAndMovesTheDedupCarrier) {
  auto msgs = parseSqsMessages(J(
      R"({"Messages":[{"MessageId":"m1","ReceiptHandle":"r1","Body":"b","Attributes":{"MessageGroupId":"M1",)"
      R"("ApproximateReceiveCount":"3","SentTimestamp":"1767225600000"},"MessageAttributes":{"reason":)"
      R"({"DataType":"String","StringValue":"x"},"memberflow-dedup-id":{"DataType":"String","StringValue":"d1"}}}]})"));
  ASSERT_TRUE(msgs.isOk());
  ASSERT_EQ(msgs->size(), 1u);
  const ReceivedMessage& m = msgs->front();
  EXPECT_EQ(m.groupId, "M1");
  EXPECT_EQ(m.dedupId, "d1");
  EXPECT_EQ(m.receiveCount, 3);
  EXPECT_EQ(m.sentAtMs, 1767225600000);
  EXPECT_EQ(m.attributes, (std::map<std::string, std::string>{{"reason", "x"}}));
}

TEST(SqsJson, MalformedResponsesAreInternalErrorsNotExceptions) {
  EXPECT_EQ(parseSqsQueueArn(J("{}")).status().code(), Code::kInternal);  // threw out_of_range
  EXPECT_EQ(parseSqsQueueArn(J(R"({"Attributes":"QueueArn"})")).status().code(), Code::kInternal);
  EXPECT_EQ(parseSqsQueueUrl(J("[]")).status().code(), Code::kInternal);  // threw "not an object"
  EXPECT_EQ(parseSqsQueueStats(J("[]")).status().code(), Code::kInternal);
  EXPECT_EQ(parseSqsFailedCount(J("1")).status().code(), Code::kInternal);
  EXPECT_EQ(parseSqsMessages(J(R"({"Messages":[{"MessageId":"m1"},"m2"]})")).status().code(),
            Code::kInternal);
  EXPECT_EQ(*parseSqsFailedCount(J(R"({"Failed":[{"Id":"3"}],"Successful":[]})")), 1u);
  EXPECT_TRUE(parseSqsMessages(J("{}"))->empty());
}

}  // namespace
}  // namespace memberflow::aws
