// File: oauth_client.h
// The sync stage's TokenProvider: OAuth 2.0 client credentials (RFC 6749 §4.4) over the
// HttpClient port, in Amazon Cognito's /oauth2/token shape: POST, form body
// grant_type=client_credentials&scope=…, the client authenticated with HTTP Basic; the secret
// comes from the Secrets port. Tokens are cached until shortly before they expire; a refresh
// after a 401 fetches a new one once, however many workers met the 401. The same client talks
// to an external issuer and to the embedded issuer's own /oauth2/token (api/oauth.h).
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "common/status.h"
#include "ports/clock.h"
#include "ports/http_client.h"
#include "ports/token_provider.h"

namespace memberflow::http {

class ClientCredentialsTokens final : public TokenProvider {
 public:
  using SecretFn = std::function<Result<std::string>()>;
  ClientCredentialsTokens(HttpClient& http, std::string tokenUrl, std::string clientId,
                          SecretFn secret, std::string scopes, const Clock& clock)
      : http_(http),
        url_(std::move(tokenUrl)),
        clientId_(std::move(clientId)),
        secret_(std::move(secret)),
        scopes_(std::move(scopes)),
        clock_(clock) {}
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

}  // namespace memberflow::http
