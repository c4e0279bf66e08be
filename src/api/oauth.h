// File: oauth.h
// The embedded mode's own OAuth 2.0 token endpoint (client credentials, RFC 6749 §4.4): POST
// /oauth2/token issues tokens signed with the local key, so the sync stage's client
// (adapters/http/oauth_client.h) runs the same code path against it as against an external
// issuer.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/auth.h"
#include "api/handlers.h"
#include "common/status.h"

namespace memberflow::api {

struct OAuthClient {
  std::string secret;
  std::set<std::string> scopes;  // the most it may ask for
};

class TokenEndpoint {
 public:
  static constexpr int64_t kTokenSeconds = 900;
  TokenEndpoint(std::shared_ptr<LocalSigningKey> key, std::map<std::string, OAuthClient> clients)
      : key_(std::move(key)), clients_(std::move(clients)) {}
  // POST /oauth2/token. Errors as RFC 6749 §5.2 (invalid_client is a 401 with a Basic challenge).
  ApiResponse handle(const ApiRequest& req) const;

 private:
  std::shared_ptr<LocalSigningKey> key_;
  std::map<std::string, OAuthClient> clients_;
};

}  // namespace memberflow::api
