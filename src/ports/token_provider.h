// File: token_provider.h
// TokenProvider: bearer tokens for outbound calls to the Member API (the sync stage).
// OAuth client credentials (adapters/http/oauth_client.h), against the embedded issuer or an
// external one.
#pragma once

#include <string>

#include "common/status.h"

namespace memberflow {

class TokenProvider {
 public:
  virtual ~TokenProvider() = default;
  // A valid access token, cached until shortly before expiry. forceRefresh after a 401.
  // Unavailable: the token endpoint is down (retry later).
  virtual Result<std::string> token(bool forceRefresh) = 0;
  // After the API refused `rejected` (401): a new token, unless another caller has already
  // replaced it (then the current one) — many workers meeting one 401 cause one refresh.
  virtual Result<std::string> refresh(const std::string& rejected) {
    (void)rejected;
    return token(true);
  }
};

}  // namespace memberflow
