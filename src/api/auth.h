// File: auth.h
// Bearer-token authentication for the Member API: the Authenticator interface, the embedded
// mode's local signing key (an ES256 key created on first start, mode 0600, whose tokens the
// API checks with the same JwtVerifier as an external issuer's — see jwt.h), and a cache of
// verified tokens. No endpoint is open by accident: the API refuses to start without a verifier.
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "ports/clock.h"
#include "ports/token_provider.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace memberflow::api {

struct Claims {
  std::string subject;
  std::string clientId;  // the OAuth client (client_id claim), when the issuer sets it
  std::set<std::string> scopes;
  int64_t expiresAt = 0;  // seconds since the epoch
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // InvalidArgument: malformed, bad signature, wrong issuer/audience, expired or not yet valid.
  // The message is safe to return to the client and to log (it never echoes the token).
  virtual Result<Claims> verify(const std::string& token) const = 0;
};

class JwtVerifier;

class LocalSigningKey final : public Authenticator {
 public:
  static constexpr const char* kIssuer = "memberflow-local";
  static constexpr const char* kAudience = "memberflow-api";

  // Loads the P-256 private key (PEM) at path, creating one (mode 0600) if absent.
  static Result<std::shared_ptr<LocalSigningKey>> loadOrCreate(const std::string& path,
                                                               const Clock& clock);
  ~LocalSigningKey() override;

  // An ES256 access token of this issuer for the API's audience.
  std::string mint(const std::string& subject, const std::vector<std::string>& scopes,
                   int64_t ttlSeconds, const std::string& clientId = "") const;
  // The public key as a JWKS document (served at /.well-known/jwks.json).
  const std::string& jwks() const { return jwks_; }
  // Verified as any issuer's tokens are: JwtVerifier with this key set, ES256 only.
  Result<Claims> verify(const std::string& token) const override;

 private:
  LocalSigningKey(std::shared_ptr<EVP_PKEY> key, const Clock& clock);
  std::shared_ptr<EVP_PKEY> key_;
  const Clock& clock_;
  std::string kid_;
  std::string jwks_;
  std::unique_ptr<JwtVerifier> verifier_;
};

// Remembers successful verifications for a short while (at most `maxAgeSeconds`, never past the
// token's exp), so a client reusing its token is not re-verified on every request. Failures
// are not remembered. Bounded; sharded locks.
class VerifiedTokenCache final : public Authenticator {
 public:
  VerifiedTokenCache(const Authenticator& inner, const Clock& clock, size_t maxEntries = 10000,
                     int64_t maxAgeSeconds = 60)
      : inner_(inner),
        clock_(clock),
        perShard_(std::max<size_t>(1, maxEntries / kShards)),
        maxAge_(maxAgeSeconds) {}
  Result<Claims> verify(const std::string& token) const override;

 private:
  static constexpr size_t kShards = 16;
  struct Entry {
    Claims claims;
    int64_t untilMs;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Entry> map;
  };
  const Authenticator& inner_;
  const Clock& clock_;
  size_t perShard_;
  int64_t maxAge_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace memberflow::api
