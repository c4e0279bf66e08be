#include "adapters/aws/s3_object_store.h"

#include <algorithm>

#include "adapters/aws/s3_xml.h"
#include "common/text.h"

namespace memberflow::aws {
namespace {

Status s3Error(const std::string& what, const HttpResponse& r) {
  std::string code = s3ErrorCode(r.body);
  std::string msg =
      "s3 " + what + ": HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code);
  if (r.status == 404) return Status::notFound(msg);
  if (r.status == 403 || r.status == 400) return Status::invalidArgument(msg);
  return Status::internal(msg);
}

}  // namespace

AwsRequest S3ObjectStore::request(const std::string& method, const std::string& key) const {
  AwsRequest req;
  req.method = method;
  req.s3 = true;
  std::string object = key.empty() ? "" : percentEncode(key, true);
  if (pathStyle_) {
    req.path = "/" + bucket_ + (object.empty() ? "" : "/" + object);
  } else {
    req.hostPrefix = bucket_ + ".";
    req.path = "/" + object;
  }
  return req;
}

Status S3ObjectStore::ensureBucket() {
  AwsRequest req = request("PUT", "");
  if (client_.config().region != "us-east-1") {  // elsewhere S3 wants the region named
    req.body =
        "<CreateBucketConfiguration "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>" +
        client_.config().region + "</LocationConstraint></CreateBucketConfiguration>";
  }
  auto r = client_.send("s3", req);
  if (!r.isOk()) return r.status();
  if (r->status == 200 || r->status == 409) return Status::ok();  // created, or already ours
  return s3Error("create bucket", *r);
}

Status S3ObjectStore::put(const std::string& key, const std::string& data, const PutOptions& opts) {
  AwsRequest req = request("PUT", key);
  req.body = data;
  req.headers = {{"Content-Type", opts.contentType}};
  if (!opts.contentEncoding.empty())
    req.headers.emplace_back("Content-Encoding", opts.contentEncoding);
  if (opts.kmsKeyId) {
    req.headers.emplace_back("x-amz-server-side-encryption", "aws:kms");
    req.headers.emplace_back("x-amz-server-side-encryption-aws-kms-key-id", *opts.kmsKeyId);
  }
  auto r = client_.send("s3", req);
  if (!r.isOk()) return r.status();
  if (r->status == 200) return Status::ok();
  return s3Error("put", *r);
}

Result<std::string> S3ObjectStore::get(const std::string& key) {
  AwsRequest req = request("GET", key);
  auto r = client_.send("s3", req);
  if (!r.isOk()) return r.status();
  if (r->status == 200) return std::move(r->body);
  return s3Error("get", *r);
}

Result<std::vector<std::string>> S3ObjectStore::list(const std::string& prefix) {
  std::vector<std::string> out;
  std::string token;
  for (;;) {
    AwsRequest req = request("GET", "");
    req.query = "list-type=2&prefix=" + percentEncode(prefix, false);
    if (!token.empty()) req.query += "&continuation-token=" + percentEncode(token, false);
    auto r = client_.send("s3", req);
    if (!r.isOk()) return r.status();
    if (r->status != 200) return s3Error("list", *r);
    auto page = parseS3ListPage(r->body);
    if (!page.isOk()) return page.status();
    for (auto& k : page->keys) out.push_back(std::move(k));
    if (!page->truncated) break;
    token = std::move(page->nextContinuationToken);
    if (token.empty()) break;
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<int64_t> S3ObjectStore::purgeOldVersions(const std::string& key) {
  std::vector<std::string> old;
  std::string keyMarker, versionMarker;
  for (;;) {
    AwsRequest req = request("GET", "");
    req.query = "prefix=" + percentEncode(key, false) + "&versions=";
    if (!keyMarker.empty()) req.query += "&key-marker=" + percentEncode(keyMarker, false);
    if (!versionMarker.empty())
      req.query += "&version-id-marker=" + percentEncode(versionMarker, false);
    auto r = client_.send("s3", req);
    if (!r.isOk()) return r.status();
    if (r->status != 200) return s3Error("list versions", *r);
    auto page = parseS3VersionsPage(r->body);
    if (!page.isOk()) return page.status();
    for (const auto& v : page->versions) {
      // A "null" version written before versioning was enabled is an old version too.
      if (v.key == key && !v.latest) old.push_back(v.versionId);
    }
    if (!page->truncated) break;
    keyMarker = page->nextKeyMarker;
    versionMarker = page->nextVersionIdMarker;
    if (keyMarker.empty() && versionMarker.empty()) break;
  }
  for (const auto& id : old) {
    AwsRequest req = request("DELETE", key);
    req.query = "versionId=" + percentEncode(id, false);
    auto r = client_.send("s3", req);
    if (!r.isOk()) return r.status();
    if (r->status != 204 && r->status != 200) return s3Error("delete version", *r);
  }
  return static_cast<int64_t>(old.size());
}

}  // namespace memberflow::aws
