// File: oauth.h
// OAuth 2.0 client credentials (RFC 6749 §4.4) on both sides:
// - ClientCredentialsTokens: the sync stage's TokenProvider. Amazon Cognito's /oauth2/token
//   shape: POST, form body grant_type=client_credentials&scope=…, client authenticated with
//   HTTP Basic; the secret comes from the Secrets port. Tokens are cached until shortly before
//   they expire; forceRefresh (after a 401) fetches a new one.
// - TokenEndpoint: the embedded mode's own /oauth2/token, issuing tokens signed with the local
//   key, so the sync stage runs the same code path everywhere.
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
#include "ports/clock.h"
#include "ports/http_client.h"
#include "ports/token_provider.h"

namespace memberflow::api {

// application/x-www-form-urlencoded, both ways. Decoding: nullopt when a parameter repeats.
std::string formEncode(const std::vector<std::pair<std::string, std::string>>& fields);
std::optional<std::map<std::string, std::string>> formDecode(std::string_view body);

class ClientCredentialsTokens final : public TokenProvider {
 public:
  using SecretFn = std::function<Result<std::string>()>;
  ClientCredentialsTokens(HttpClient& http, std::string tokenUrl, std::string clientId, SecretFn secret,
                          std::string scopes, const Clock& clock)
      : http_(http), url_(std::move(tokenUrl)), clientId_(std::move(clientId)), secret_(std::move(secret)),
        scopes_(std::move(scopes)), clock_(clock) {}
  // Unavailable when the endpoint cannot be reached or refuses (the reason names the OAuth
  // error code, never the secret or the token).
  Result<std::string> token(bool forceRefresh) override;
  Result<std::string> refresh(const std::string& rejected) override;

 private:
  Result<std::string> fetch(int64_t now);  // mu_ held
  HttpClient& http_;
  std::string url_, clientId_;
  SecretFn secret_;
  std::string scopes_;
  const Clock& clock_;
  std::mutex mu_;
  std::string cached_;
  int64_t refreshAtMs_ = 0;
};

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
