// File: jwt.h
// JWT bearer tokens (RFC 7519) signed as compact JWS (RFC 7515), verified with OpenSSL against a
// JSON Web Key Set (RFC 7517): RS256/384/512, PS256/384/512, ES256/384/512 and EdDSA (Ed25519,
// Ed448); HS256/384/512 only when configured. The key always comes from the key set, never from
// the token: `jwk`, `jku`, `x5u` and `x5c` headers, `crit`, `alg: none`, a key of another type
// than the algorithm's (algorithm confusion) and non-canonical base64url are refused.
// Error messages are fixed phrases: safe for the client and for logs, never the token.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/auth.h"
#include "common/status.h"
#include "ports/clock.h"
#include "ports/http_client.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace memberflow::api {

struct Jwk {
  std::string kid;
  std::string kty;                // RSA, EC, OKP, oct
  std::string crv;                // EC and OKP
  std::string alg;                // when set, the one algorithm this key verifies
  std::shared_ptr<EVP_PKEY> key;  // public key (RSA, EC, OKP)
  std::string secret;             // oct
};

class JwkSet {
 public:
  // A JWKS document ({"keys": [...]}) or one JWK. Keys this verifier cannot use (other types,
  // "use" other than "sig", RSA under 2048 bits) are skipped, as RFC 7517 §5 asks; private
  // parts are ignored. InvalidArgument when the JSON is bad or no key is usable.
  static Result<JwkSet> parse(std::string_view json);
  const std::vector<Jwk>& keys() const { return keys_; }

 private:
  std::vector<Jwk> keys_;
};

struct JwtPolicy {
  // Accepted algorithms. HS* only when listed; "none" never (refused by checkPolicy).
  std::set<std::string> algorithms{"RS256", "RS384", "RS512", "PS256", "PS384",
                                   "PS512", "ES256", "ES384", "ES512", "EdDSA"};
  std::string issuer;    // empty: not checked
  std::string audience;  // empty: not checked
  // The claim holding the audience: "aud" (RFC 7519), or "client_id" for issuers whose access
  // tokens carry no aud and name the client instead (Amazon Cognito).
  std::string audienceClaim = "aud";
  // Stripped from every scope that carries it: Cognito's custom scopes are
  // "<resource server>/<scope>", e.g. "https://members.example/member:read".
  std::string scopePrefix;
  int64_t skewSeconds = 60;
  bool checkClaims = true;  // false: header and signature only (`auth verify --no-claims`)
  size_t maxTokenBytes = 8192;
};

// InvalidArgument when the policy is unsafe (alg none, unknown algorithm, skew outside 0..300).
Status checkPolicy(const JwtPolicy& p);

// The header and signature of a compact JWS against `keys`; returns the payload bytes.
// `unknownKid` is set when the token names a kid that the set does not hold (the caller may
// refresh the set and try again).
Result<std::string> verifyJws(std::string_view token, const JwkSet& keys, const JwtPolicy& p,
                              bool* unknownKid = nullptr);

// The registered claims of a verified payload (exp required; nbf, iat, iss, aud) at `nowSeconds`;
// scopes from `scope` (space-separated) or `scp` (array or string).
Result<Claims> checkJwtClaims(std::string_view payload, const JwtPolicy& p, int64_t nowSeconds);

// Where the verifier gets its key set.
class KeySource {
 public:
  virtual ~KeySource() = default;
  // The current set. `refresh`: the caller met an unknown kid; the source may fetch again
  // (rate-limited). Unavailable when no set was ever loaded.
  virtual Result<std::shared_ptr<const JwkSet>> keys(bool refresh) = 0;
};

// A fixed set (a file read at start, or the embedded mode's own key).
class StaticKeySource final : public KeySource {
 public:
  explicit StaticKeySource(JwkSet set) : set_(std::make_shared<const JwkSet>(std::move(set))) {}
  static Result<std::shared_ptr<StaticKeySource>> fromFile(const std::string& path);
  Result<std::shared_ptr<const JwkSet>> keys(bool) override { return set_; }

 private:
  std::shared_ptr<const JwkSet> set_;
};

// A JWKS URL: kept for its Cache-Control max-age (clamped to 1 minute .. 1 day, 5 minutes
// without one), fetched again when stale or on an unknown kid — at most once per
// `minRefreshMs`; when a fetch fails the last good set stays in use (and the failure is logged).
class UrlKeySource final : public KeySource {
 public:
  UrlKeySource(HttpClient& http, std::string url, const Clock& clock, int64_t minRefreshMs = 30000)
      : http_(http), url_(std::move(url)), clock_(clock), minRefreshMs_(minRefreshMs) {}
  Result<std::shared_ptr<const JwkSet>> keys(bool refresh) override;
  int fetches() const;  // for tests

 private:
  HttpClient& http_;
  std::string url_;
  const Clock& clock_;
  int64_t minRefreshMs_;
  mutable std::mutex mu_;
  std::shared_ptr<const JwkSet> set_;
  int64_t freshUntilMs_ = 0;
  int64_t lastFetchMs_ = -1;
  bool fetching_ = false;
  int fetches_ = 0;
};

class JwtVerifier final : public Authenticator {
 public:
  JwtVerifier(std::shared_ptr<KeySource> keys, JwtPolicy policy, const Clock& clock)
      : keys_(std::move(keys)), policy_(std::move(policy)), clock_(clock) {}
  Result<Claims> verify(const std::string& token) const override;

 private:
  std::shared_ptr<KeySource> keys_;
  JwtPolicy policy_;
  const Clock& clock_;
};

}  // namespace memberflow::api
