#include "adapters/aws/s3_xml.h"

#include <pugixml.hpp>

namespace memberflow::aws {

Result<S3ListPage> parseS3ListPage(const std::string& body) {
  pugi::xml_document doc;
  if (!doc.load_string(body.c_str())) return Status::internal("s3 list: response is not XML");
  S3ListPage page;
  auto root = doc.child("ListBucketResult");
  for (auto c = root.child("Contents"); c; c = c.next_sibling("Contents")) {
    page.keys.emplace_back(c.child_value("Key"));
  }
  page.truncated = std::string(root.child_value("IsTruncated")) == "true";
  page.nextContinuationToken = root.child_value("NextContinuationToken");
  return page;
}

Result<S3VersionsPage> parseS3VersionsPage(const std::string& body) {
  pugi::xml_document doc;
  if (!doc.load_string(body.c_str())) return Status::internal("s3 versions: response is not XML");
  S3VersionsPage page;
  auto root = doc.child("ListVersionsResult");
  for (auto c = root.first_child(); c; c = c.next_sibling()) {
    std::string name = c.name();
    if (name != "Version" && name != "DeleteMarker") continue;
    page.versions.push_back({c.child_value("Key"), c.child_value("VersionId"),
                             std::string(c.child_value("IsLatest")) == "true"});
  }
  page.truncated = std::string(root.child_value("IsTruncated")) == "true";
  page.nextKeyMarker = root.child_value("NextKeyMarker");
  page.nextVersionIdMarker = root.child_value("NextVersionIdMarker");
  return page;
}

std::string s3ErrorCode(const std::string& body) {
  pugi::xml_document doc;
  if (!doc.load_string(body.c_str())) return {};
  return doc.child("Error").child_value("Code");
}

}  // namespace memberflow::aws
