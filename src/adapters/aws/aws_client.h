// File: aws_client.h
// One client for every AWS adapter: signs each request with SigV4, sends it through the
// HttpClient port, retries what is safe to retry (request never sent, throttling, 5xx) with
// exponential backoff and full jitter (ports/retry.h, sleeping on the Clock port), and maps
// AWS errors to Status codes once, here.
#pragma once

#include <map>
#include <stop_token>
#include <string>

#include "adapters/aws/sigv4.h"
#include "common/backoff.h"
#include "common/json.h"
#include "common/status.h"
#include "ports/clock.h"
#include "ports/http_client.h"
#include "ports/retry.h"

namespace memberflow::aws {

// Where credentials come from. get() returns NotFound when the provider is not configured
// (its environment variables are absent), so a chain can move on; any other error means it
// is configured and failing. The chain itself is in credentials.h.
class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  virtual Result<Credentials> get() = 0;
};

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.
class EnvCredentials final : public CredentialsProvider {
 public:
  Result<Credentials> get() override;
};

struct AwsConfig {
  std::string region = "us-east-1";
  std::string endpoint;  // override for every service (moto, compatible stores); empty: AWS
  long timeoutMs = 10000;
  BackoffPolicy retry{100, 5000, 4};  // maxAttempts: tries of one request (at least one)
  std::map<std::string, std::string> serviceEndpoints;  // per service ("s3"), before `endpoint`
  uint64_t jitterSeed = 0;                              // 0: random (tests fix it)
};

struct AwsRequest {
  std::string method = "GET";
  std::string path = "/";
  std::string query;  // already encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool s3 = false;         // S3 signing rules: no path normalisation, x-amz-content-sha256
  std::string hostPrefix;  // put before the endpoint's host: "bucket." (S3 virtual-hosted style)
};

class AwsClient {
 public:
  // `stop` ends the backoff between tries at once (the request then ends as Unavailable);
  // without one, a request's backoff is bounded by the policy: at most maxAttempts - 1
  // sleeps of at most capMs each.
  AwsClient(HttpClient& http, CredentialsProvider& creds, const Clock& clock, AwsConfig cfg,
            std::stop_token stop = {})
      : http_(http), creds_(creds), clock_(clock), cfg_(std::move(cfg)), stop_(std::move(stop)) {}

  // Sends a signed request; any HTTP status comes back (the caller interprets 4xx), except
  // that retryable failures are retried (up to cfg.retry.maxAttempts tries, backing off on
  // the clock) and end as Unavailable. Thread-safe.
  Result<HttpResponse> send(const std::string& service, const AwsRequest& req);
  // AWS JSON protocol (SQS, DynamoDB, SNS-less services): X-Amz-Target and a JSON body.
  // Errors are mapped from the `__type` of the error body.
  Result<json::value> json(const std::string& service, const std::string& target,
                           const json::value& body, const std::string& contentType);

  // AWS query protocol (SNS): form-encoded Action and parameters, XML back. Errors are mapped
  // from the <Code> of the error document.
  Result<std::string> query(const std::string& service, const std::string& action,
                            const std::vector<std::pair<std::string, std::string>>& params,
                            const std::string& version);

  // The service's endpoint: its own override, else the common override, else AWS's.
  std::string endpointFor(const std::string& service) const;
  bool hasEndpointOverride(const std::string& service) const {
    return !cfg_.endpoint.empty() || cfg_.serviceEndpoints.count(service) > 0;
  }
  const AwsConfig& config() const { return cfg_; }

 private:
  HttpClient& http_;
  CredentialsProvider& creds_;
  const Clock& clock_;
  AwsConfig cfg_;
  std::stop_token stop_;
};

// The short error code of an AWS JSON error body ("...#ResourceNotFoundException" -> the part
// after '#').
std::string awsErrorCode(const std::string& body);

// The <Code> of an AWS query-protocol (XML) error document ("NotFound"), or empty.
std::string queryErrorCode(const std::string& body);

}  // namespace memberflow::aws
