// File: s3_object_store.h
// ObjectStore on Amazon S3 (REST, path-style addressing so moto and S3-compatible stores
// work), with SSE-KMS when a key is configured.
#pragma once

#include "adapters/aws/aws_client.h"
#include "ports/object_store.h"

namespace memberflow::aws {

class S3ObjectStore final : public ObjectStore {
 public:
  S3ObjectStore(AwsClient& client, std::string bucket) : client_(client), bucket_(std::move(bucket)) {}
  // Creates the bucket if it does not exist (tests, local use). Idempotent.
  Status ensureBucket();
  Status put(const std::string& key, const std::string& data, const PutOptions& opts) override;
  Result<std::string> get(const std::string& key) override;
  Result<std::vector<std::string>> list(const std::string& prefix) override;

 private:
  std::string pathOf(const std::string& key) const { return "/" + bucket_ + "/" + uriEncode(key, true); }
  AwsClient& client_;
  std::string bucket_;
};

}  // namespace memberflow::aws
