// File: credentials.h
// The AWS credentials chain: environment, shared credentials file (profile), ECS container
// credentials, web identity (EKS service accounts) — the first one that is configured wins.
// Temporary credentials are cached and refreshed five minutes before they expire.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "adapters/aws/aws_client.h"

namespace memberflow::aws {

// AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials), profile AWS_PROFILE or "default".
class ProfileCredentials final : public CredentialsProvider {
 public:
  Result<Credentials> get() override;
};

// AWS_CONTAINER_CREDENTIALS_FULL_URI (or _RELATIVE_URI on 169.254.170.2) with the
// AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) header: ECS tasks.
class ContainerCredentials final : public CredentialsProvider {
 public:
  explicit ContainerCredentials(HttpClient& http) : http_(http) {}
  Result<Credentials> get() override;

 private:
  HttpClient& http_;
};

// AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN: STS AssumeRoleWithWebIdentity (an unsigned call).
class WebIdentityCredentials final : public CredentialsProvider {
 public:
  WebIdentityCredentials(HttpClient& http, std::string stsEndpoint)
      : http_(http), endpoint_(std::move(stsEndpoint)) {}
  Result<Credentials> get() override;

 private:
  HttpClient& http_;
  std::string endpoint_;
};

// Tries providers in order; caches what it got until five minutes before its expiry.
class CredentialsChain final : public CredentialsProvider {
 public:
  CredentialsChain(std::vector<std::unique_ptr<CredentialsProvider>> providers, const Clock& clock)
      : providers_(std::move(providers)), clock_(clock) {}
  // environment, profile, container, web identity.
  static std::unique_ptr<CredentialsChain> standard(HttpClient& http,
                                                    const std::string& stsEndpoint,
                                                    const Clock& clock);
  Result<Credentials> get() override;

 private:
  std::vector<std::unique_ptr<CredentialsProvider>> providers_;
  const Clock& clock_;
  std::mutex mu_;
  std::optional<Credentials> cached_;
};

}  // namespace memberflow::aws
