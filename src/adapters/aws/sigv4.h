// File: sigv4.h
// AWS Signature Version 4 (no AWS SDK for C++ is packaged): canonical request, string to
// sign, signature, and the headers or query parameters that carry them. Pure functions, no
// I/O. Passes every v4 case of the AWS signing test suite (../shared/corpora/aws-sigv4).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace memberflow::aws {

struct Credentials {
  std::string accessKeyId;
  std::string secretAccessKey;
  std::string sessionToken;  // empty: long-term credentials
  int64_t expiresAtMs = 0;   // 0: does not expire
};

struct SignableRequest {
  std::string method;
  std::string path;   // as on the wire (may be percent-encoded)
  std::string query;  // as on the wire, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // in order, duplicates allowed
  std::string body;
};

struct SigningOptions {
  std::string region;
  std::string service;
  int64_t epochSeconds = 0;
  bool normalizePath = true;      // remove dot segments and empty segments (not for S3)
  bool signBody = false;          // add x-amz-content-sha256 (S3 requires it)
  bool unsignedPayload = false;   // S3: sign "UNSIGNED-PAYLOAD" instead of the body's hash
  bool omitSessionToken = false;  // add the token after signing (some services want that)
  int64_t expiresSeconds = 3600;  // presigned URLs
};

struct Signature {
  std::string canonicalRequest;
  std::string stringToSign;
  std::string signature;  // lowercase hex
  // Header signing: the headers to add (x-amz-date, x-amz-security-token,
  // x-amz-content-sha256, authorization). Query signing: the full signed query string.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string query;
};

Signature signHeaders(const SignableRequest& r, const Credentials& c, const SigningOptions& o);
Signature presignQuery(const SignableRequest& r, const Credentials& c, const SigningOptions& o);

}  // namespace memberflow::aws
