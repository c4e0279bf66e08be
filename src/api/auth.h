// File: auth.h
// Bearer-token authentication for the Member API. This is the foundation's minimal check:
// compact JWS tokens signed HS256 with the embedded mode's local key (created on first start,
// mode 0600), with exp/nbf/iss/aud and scopes checked. No endpoint is open by accident: the
// API refuses to start without a verifier.
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "ports/clock.h"
#include "ports/token_provider.h"

namespace memberflow::api {

struct Claims {
  std::string subject;
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

class LocalSigningKey final : public Authenticator {
 public:
  static constexpr const char* kIssuer = "memberflow-local";
  static constexpr const char* kAudience = "memberflow-api";
  static constexpr int64_t kSkewSeconds = 60;

  // Loads the key at path, creating a fresh random 256-bit key (mode 0600) if absent.
  static Result<std::shared_ptr<LocalSigningKey>> loadOrCreate(const std::string& path,
                                                              const Clock& clock);
  LocalSigningKey(std::string key, const Clock& clock) : key_(std::move(key)), clock_(clock) {}

  std::string mint(const std::string& subject, const std::vector<std::string>& scopes,
                   int64_t ttlSeconds) const;
  Result<Claims> verify(const std::string& token) const override;

 private:
  std::string key_;
  const Clock& clock_;
};

// Remembers successful verifications for a short while (at most `maxAgeSeconds`, never past the
// token's exp), so a client reusing its token is not re-verified on every request. Failures
// are not remembered. Bounded; sharded locks.
class VerifiedTokenCache final : public Authenticator {
 public:
  VerifiedTokenCache(const Authenticator& inner, const Clock& clock, size_t maxEntries = 10000,
                     int64_t maxAgeSeconds = 60)
      : inner_(inner), clock_(clock), perShard_(std::max<size_t>(1, maxEntries / kShards)), maxAge_(maxAgeSeconds) {}
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

// Tokens for the sync stage in embedded mode, minted locally and cached until shortly before
// expiry.
class LocalTokenProvider final : public TokenProvider {
 public:
  LocalTokenProvider(std::shared_ptr<LocalSigningKey> key, const Clock& clock)
      : key_(std::move(key)), clock_(clock) {}
  Result<std::string> token(bool forceRefresh) override;

 private:
  std::shared_ptr<LocalSigningKey> key_;
  const Clock& clock_;
  std::mutex mu_;
  std::string cached_;
  int64_t expiresAtMs_ = 0;
};

}  // namespace memberflow::api
