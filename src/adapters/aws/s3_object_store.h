// File: s3_object_store.h
// ObjectStore on Amazon S3 (REST; virtual-hosted-style addressing, or path-style for moto and
// S3-compatible stores), with SSE-KMS when a key is configured.
#pragma once

#include "adapters/aws/aws_client.h"
#include "ports/object_store.h"

namespace memberflow::aws {

class S3ObjectStore final : public ObjectStore {
 public:
  enum class Addressing {
    kAuto,
    kPath,
    kVirtualHosted
  };  // auto: path-style iff the endpoint is overridden
  S3ObjectStore(AwsClient& client, std::string bucket, Addressing a = Addressing::kAuto)
      : client_(client),
        bucket_(std::move(bucket)),
        pathStyle_(a == Addressing::kPath ||
                   (a == Addressing::kAuto && client.hasEndpointOverride("s3"))) {}
  // Creates the bucket if it does not exist (tests, local use). Idempotent.
  Status ensureBucket();
  Status put(const std::string& key, const std::string& data, const PutOptions& opts) override;
  Result<std::string> get(const std::string& key) override;
  Result<std::vector<std::string>> list(const std::string& prefix) override;
  // ListObjectVersions of the key, then DeleteObject with the versionId of every version and
  // delete marker that is not the latest. An unversioned bucket lists only its "null" version:
  // 0. Needs s3:ListBucketVersions and s3:DeleteObjectVersion.
  Result<int64_t> purgeOldVersions(const std::string& key) override;
  const std::string& bucket() const { return bucket_; }

 private:
  // A request on the bucket (key empty) or on one of its objects, in the chosen addressing.
  AwsRequest request(const std::string& method, const std::string& key) const;
  AwsClient& client_;
  std::string bucket_;
  bool pathStyle_;
};

}  // namespace memberflow::aws
