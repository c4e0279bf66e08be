// File: secrets_manager.h
// Secrets on AWS Secrets Manager: GetSecretValue, cached for a while so a busy stage does not
// call it per request; NotFound for an unknown secret. Values never reach logs or errors.
#pragma once

#include <map>
#include <mutex>

#include "adapters/aws/aws_client.h"
#include "ports/secrets.h"

namespace memberflow::aws {

class SecretsManager final : public Secrets {
 public:
  SecretsManager(AwsClient& client, const Clock& clock, int64_t cacheMs = 300000)
      : client_(client), clock_(clock), cacheMs_(cacheMs) {}
  Result<std::string> get(const std::string& name) override;
  // Creates or updates a secret (tests, provisioning).
  Status put(const std::string& name, const std::string& value);

 private:
  AwsClient& client_;
  const Clock& clock_;
  int64_t cacheMs_;
  std::mutex mu_;
  std::map<std::string, std::pair<std::string, int64_t>> cache_;  // name -> (value, fetched at)
};

}  // namespace memberflow::aws
