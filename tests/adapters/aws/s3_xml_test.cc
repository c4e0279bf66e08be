// S3's XML answers (ListObjectsV2) as the S3 adapter reads them:
// malformed bodies are errors of the call, never exceptions or undefined behaviour
// (what fuzz/ found is among these cases).
#include "adapters/aws/s3_xml.h"

#include <gtest/gtest.h>

namespace memberflow::aws {
namespace {

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

}  // namespace
}  // namespace memberflow::aws
