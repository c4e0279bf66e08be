// SNS's XML answers (CreateTopic, PublishBatch) as the SNS adapter reads them:
// malformed bodies are errors of the call, never exceptions or undefined behaviour
// (what fuzz/ found is among these cases).
#include "adapters/aws/sns_xml.h"

#include <gtest/gtest.h>

namespace memberflow::aws {
namespace {

TEST(SnsXml, ReadsCreateTopicAndPublishBatch) {
  EXPECT_EQ(*parseSnsTopicArn(
                "<CreateTopicResponse><CreateTopicResult><TopicArn>arn:aws:sns:us-east-1:1:t.fifo"
                "</TopicArn></CreateTopicResult></CreateTopicResponse>"),
            "arn:aws:sns:us-east-1:1:t.fifo");
  EXPECT_EQ(parseSnsTopicArn("<CreateTopicResponse/>").status().code(), Code::kInternal);
  EXPECT_TRUE(
      snsPublishBatchFailed("<PublishBatchResponse><PublishBatchResult><Failed><member><Id>m0</Id>"
                            "</member></Failed></PublishBatchResult></PublishBatchResponse>"));
  EXPECT_FALSE(snsPublishBatchFailed(
      "<PublishBatchResponse><PublishBatchResult><Failed/></PublishBatchResult>"
      "</PublishBatchResponse>"));
}

}  // namespace
}  // namespace memberflow::aws
