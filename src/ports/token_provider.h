// File: token_provider.h
// TokenProvider: bearer tokens for outbound calls to the Member API (the sync stage).
// Embedded: minted with the local signing key; later: OAuth client credentials.
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
};

}  // namespace memberflow
