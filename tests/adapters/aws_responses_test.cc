// The AWS adapters' response parsing (s3_xml, sqs_json, sns_xml, dynamodb_json and the error
// codes of aws_client) on the services' answers and on what fuzz_s3/sqs/sns/dynamodb found:
// malformed bodies are errors of the call, never exceptions or undefined behaviour.
#include <gtest/gtest.h>

#include <limits>

#include "adapters/aws/aws_client.h"
#include "adapters/aws/dynamodb_json.h"
#include "adapters/aws/s3_xml.h"
#include "adapters/aws/sns_xml.h"
#include "adapters/aws/sqs_json.h"

namespace memberflow::aws {
namespace {

json::value J(const char* text) { return json::parse(text); }

TEST(S3Xml, ReadsAListObjectsV2Page) {
  auto page = parseS3ListPage(
      R"(<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
      R"(<Name>b</Name><IsTruncated>true</IsTruncated><Contents><Key>raw/a &amp; b</Key></Contents>)"
      R"(<Contents><Key>raw/c</Key></Contents><NextContinuationToken>t/1=</NextContinuationToken></ListBucketResult>)");
  ASSERT_TRUE(page.isOk());
  EXPECT_EQ(page->keys, (std::vector<std::string>{"raw/a & b", "raw/c"}));
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->nextContinuationToken, "t/1=");
  EXPECT_EQ(parseS3ListPage("<html").status().code(), Code::kInternal);
  EXPECT_EQ(s3ErrorCode("<Error><Code>NoSuchKey</Code><Message>m</Message></Error>"), "NoSuchKey");
  EXPECT_EQ(s3ErrorCode("not xml <"), "");
}

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
  EXPECT_EQ(parseSqsMessages(J(R"({"Messages":[{"MessageId":"m1"},"m2"]})")).status().code(), Code::kInternal);
  EXPECT_EQ(*parseSqsFailedCount(J(R"({"Failed":[{"Id":"3"}],"Successful":[]})")), 1u);
  EXPECT_TRUE(parseSqsMessages(J("{}"))->empty());
}

TEST(DynamoDbJson, ReadsALedgerItem) {
  auto e = parseLedgerItem(J(R"({"Item":{"messageId":{"S":"k"},"claimedAt":{"N":"5"},"completedAt":{"N":"6"},)"
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

TEST(SnsXml, ReadsCreateTopicAndPublishBatch) {
  EXPECT_EQ(*parseSnsTopicArn("<CreateTopicResponse><CreateTopicResult><TopicArn>arn:aws:sns:us-east-1:1:t.fifo"
                              "</TopicArn></CreateTopicResult></CreateTopicResponse>"),
            "arn:aws:sns:us-east-1:1:t.fifo");
  EXPECT_EQ(parseSnsTopicArn("<CreateTopicResponse/>").status().code(), Code::kInternal);
  EXPECT_TRUE(snsPublishBatchFailed("<PublishBatchResponse><PublishBatchResult><Failed><member><Id>m0</Id>"
                                    "</member></Failed></PublishBatchResult></PublishBatchResponse>"));
  EXPECT_FALSE(snsPublishBatchFailed("<PublishBatchResponse><PublishBatchResult><Failed/></PublishBatchResult>"
                                     "</PublishBatchResponse>"));
}

TEST(AwsErrorCodes, QueryCodeIsTheFirstCodeElement) {
  EXPECT_EQ(queryErrorCode("<ErrorResponse><Error><Code>NotFound</Code></Error></ErrorResponse>"), "NotFound");
  EXPECT_EQ(queryErrorCode("no code"), "");
  // A </Code> before the <Code> made the length wrap: the code ran to the end of the body.
  EXPECT_EQ(queryErrorCode("<Message>see </Code></Message><Code>Throttling</Code><More/>"), "Throttling");
  EXPECT_EQ(queryErrorCode("<Message>see </Code></Message><Code>Throttling"), "");
  EXPECT_EQ(awsErrorCode(R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist"})"), "QueueDoesNotExist");
  EXPECT_EQ(awsErrorCode("<Error/>"), "");
}

}  // namespace
}  // namespace memberflow::aws
