// File: s3_xml.h
// S3's XML responses read into plain values: a ListObjectsV2 page, a ListObjectVersions page
// and the code of an error
// document. Pure functions, no I/O, so the S3 adapter's parsing is fuzzed alone (fuzz_s3).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace memberflow::aws {

// One page of a ListObjectsV2 answer (<ListBucketResult>).
struct S3ListPage {
  std::vector<std::string> keys;      // each <Contents><Key>, in document order
  bool truncated = false;             // <IsTruncated>true</IsTruncated>: more pages follow
  std::string nextContinuationToken;  // <NextContinuationToken>: where the next page starts
};

// Internal when the body is not XML. A document without <ListBucketResult> is an empty page
// that is not truncated. The body is read up to its first NUL.
Result<S3ListPage> parseS3ListPage(const std::string& body);

// One page of a ListObjectVersions answer (<ListVersionsResult>): the object versions and
// delete markers, in document order.
struct S3ObjectVersion {
  std::string key;
  std::string versionId;  // "null" for an object written while versioning was off
  bool latest = false;    // <IsLatest>true</IsLatest>: the current version (or marker)
};
struct S3VersionsPage {
  std::vector<S3ObjectVersion> versions;  // <Version> and <DeleteMarker> entries
  bool truncated = false;
  std::string nextKeyMarker, nextVersionIdMarker;
};
// Internal when the body is not XML. The body is read up to its first NUL.
Result<S3VersionsPage> parseS3VersionsPage(const std::string& body);

// The <Code> of S3's <Error> document ("NoSuchKey", "AccessDenied"), or empty when the body is
// not such a document.
std::string s3ErrorCode(const std::string& body);

}  // namespace memberflow::aws
