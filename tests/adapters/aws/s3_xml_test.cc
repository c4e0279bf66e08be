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

TEST(S3Xml, VersionsPageListsVersionsAndDeleteMarkersInOrder) {
  auto page = parseS3VersionsPage(
      R"(<?xml version="1.0" encoding="UTF-8"?><ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
      R"(<Name>b</Name><IsTruncated>true</IsTruncated><NextKeyMarker>raw/b</NextKeyMarker>)"
      R"(<NextVersionIdMarker>v9</NextVersionIdMarker>)"
      R"(<Version><Key>raw/a</Key><VersionId>v3</VersionId><IsLatest>true</IsLatest></Version>)"
      R"(<DeleteMarker><Key>raw/a</Key><VersionId>v2</VersionId><IsLatest>false</IsLatest></DeleteMarker>)"
      R"(<Version><Key>raw/a</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest></Version>)"
      R"(</ListVersionsResult>)");
  ASSERT_TRUE(page.isOk());
  ASSERT_EQ(page->versions.size(), 3u);
  EXPECT_EQ(page->versions[0].versionId, "v3");
  EXPECT_TRUE(page->versions[0].latest);
  EXPECT_EQ(page->versions[1].versionId, "v2");
  EXPECT_FALSE(page->versions[1].latest);
  EXPECT_EQ(page->versions[2].key, "raw/a");
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->nextKeyMarker, "raw/b");
  EXPECT_EQ(page->nextVersionIdMarker, "v9");
  EXPECT_EQ(parseS3VersionsPage("not xml <").status().code(), Code::kInternal);
}

}  // namespace
}  // namespace memberflow::aws
