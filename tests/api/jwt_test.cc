// The JWT verifier: the JOSE corpora (RFC 7515 Appendix A, RFC 7520 cookbook, RFC 8037
// Ed25519) verify and their tampered copies do not; claims with skew; the key-set sources.
// Tokens from an independent implementation (PyJWT) and the attack matrix are in
// tests/e2e/test_auth.py.
#include "api/jwt.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/crypto.h"
#include "common/json.h"
#include "support/test_support.h"

namespace memberflow::api {
namespace {

namespace fs = std::filesystem;
using memberflow::testing::ManualClock;

using memberflow::testing::readFile;

JwtPolicy only(const std::string& alg) {
  JwtPolicy p;
  p.algorithms = {alg};
  p.checkClaims = false;
  return p;
}

// One signature bit flipped, re-encoded canonically.
std::string tamperSignature(const std::string& token) {
  auto dot = token.rfind('.');
  std::string sig = *crypto::base64UrlDecode(token.substr(dot + 1));
  sig[sig.size() / 2] = static_cast<char>(sig[sig.size() / 2] ^ 0x01);
  return token.substr(0, dot + 1) + crypto::base64UrlEncode(sig);
}

struct Vector {
  std::string name, alg, jwk, compact;
};

std::vector<Vector> corpusVectors(const std::string& corpora) {
  std::vector<Vector> out;
  auto a = json::parse(
      readFile(corpora + "/jose/rfc7515-appendixA-erlang-jose/rfc7515-appendixA.TRANSCRIBED.json"));
  for (const auto& [k, v] : a.at("vectors").as_object()) {
    const auto& o = v.as_object();
    std::string alg(o.at("alg").as_string());
    if (alg == "none") continue;
    std::string p = std::string(k) + ".1.";
    out.push_back({"RFC 7515 " + std::string(k), alg, std::string(o.at(p + "jwk+json").as_string()),
                   std::string(o.at(p + "compact").as_string())});
  }
  for (const char* f :
       {"jws/4_1.rsa_v15_signature", "jws/4_2.rsa-pss_signature", "jws/4_3.ecdsa_signature",
        "jws/4_4.hmac-sha2_integrity_protection", "curve25519/jws"}) {
    auto j = json::parse(readFile(corpora + "/jose/rfc7520-cookbook/" + f + ".json"));
    out.push_back({f, std::string(j.at("input").at("alg").as_string()),
                   json::serialize(j.at("input").at("key")),
                   std::string(j.at("output").at("compact").as_string())});
  }
  return out;
}

TEST(JwtCorpora, ValidExamplesVerifyAndTamperedOnesDoNot) {
  std::string corpora = memberflow::testing::corporaDir();
  if (corpora.empty()) GTEST_SKIP() << "../shared/corpora is absent";
  auto vectors = corpusVectors(corpora);
  ASSERT_EQ(vectors.size(), 9u);
  std::set<std::string> algs;
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.name);
    auto keys = JwkSet::parse(v.jwk);  // private parts ignored: verification uses the public key
    ASSERT_TRUE(keys.isOk()) << keys.status().toString();
    auto ok = verifyJws(v.compact, *keys, only(v.alg));
    EXPECT_TRUE(ok.isOk()) << ok.status().toString();
    EXPECT_FALSE(verifyJws(tamperSignature(v.compact), *keys, only(v.alg)).isOk());
    // The payload changed under the same signature.
    auto d1 = v.compact.find('.'), d2 = v.compact.rfind('.');
    std::string payload = *crypto::base64UrlDecode(v.compact.substr(d1 + 1, d2 - d1 - 1)) + " ";
    EXPECT_FALSE(verifyJws(v.compact.substr(0, d1 + 1) + crypto::base64UrlEncode(payload) +
                               v.compact.substr(d2),
                           *keys, only(v.alg))
                     .isOk());
    // Not accepted unless its algorithm is (HS256 in particular is off by default).
    JwtPolicy defaults;
    defaults.checkClaims = false;
    EXPECT_EQ(verifyJws(v.compact, *keys, defaults).isOk(), v.alg.rfind("HS", 0) != 0);
    algs.insert(v.alg);
  }
  EXPECT_EQ(algs, (std::set<std::string>{"HS256", "RS256", "ES256", "ES512", "PS384", "EdDSA"}));
}

TEST(JwtCorpora, UnsecuredAndDetachedExamplesAreRefused) {
  std::string corpora = memberflow::testing::corporaDir();
  if (corpora.empty()) GTEST_SKIP() << "../shared/corpora is absent";
  auto a = json::parse(
      readFile(corpora + "/jose/rfc7515-appendixA-erlang-jose/rfc7515-appendixA.TRANSCRIBED.json"));
  const auto& v = a.at("vectors").as_object();
  auto keys = *JwkSet::parse(v.at("a.2").at("a.2.1.jwk+json").as_string());
  JwtPolicy p;
  p.checkClaims = false;
  auto none = verifyJws(v.at("a.5").at("a.5.compact").as_string(), keys, p);
  EXPECT_EQ(none.status().message(), "token algorithm is not accepted");
  p.algorithms = {"none"};
  EXPECT_FALSE(checkPolicy(p).isOk());
  auto j = json::parse(
      readFile(corpora + "/jose/rfc7520-cookbook/jws/4_5.signature_with_detached_content.json"));
  auto hk = *JwkSet::parse(json::serialize(j.at("input").at("key")));
  EXPECT_FALSE(verifyJws(j.at("output").at("compact").as_string(), hk, only("HS256")).isOk());
}

TEST(JwtClaims, DatesWithSkewIssuerAudienceAndScopes) {
  JwtPolicy p;
  p.issuer = "https://issuer.example";
  p.audience = "memberflow-api";
  p.skewSeconds = 30;
  const int64_t now = 1'800'000'000;
  auto claims = [&](const std::string& extra) {
    return checkJwtClaims(
        R"({"iss":"https://issuer.example","aud":["x","memberflow-api"],"sub":"c1")" + extra + "}",
        p, now);
  };
  auto ok = claims(
      R"(,"exp":1800000100,"scope":"member:read other","scp":["member:write"],"client_id":"app")");
  ASSERT_TRUE(ok.isOk()) << ok.status().toString();
  EXPECT_EQ(ok->scopes, (std::set<std::string>{"member:read", "member:write", "other"}));
  EXPECT_EQ(ok->clientId, "app");
  EXPECT_EQ(ok->subject, "c1");
  EXPECT_TRUE(claims(R"(,"exp":1799999980)").isOk());  // within the skew
  EXPECT_EQ(claims(R"(,"exp":1799999970)").status().message(), "token has expired");
  EXPECT_EQ(claims("").status().message(), "token has no expiry");
  EXPECT_EQ(claims(R"(,"exp":"1800000100")").status().message(),
            "token has a date claim that is not a number");
  EXPECT_TRUE(claims(R"(,"exp":1800000100.5,"nbf":1800000020)").isOk());
  EXPECT_EQ(claims(R"(,"exp":1800000100,"nbf":1800000031)").status().message(),
            "token is not valid yet");
  EXPECT_EQ(claims(R"(,"exp":1800000100,"iat":1800000031)").status().message(),
            "token was issued in the future");
  EXPECT_EQ(claims(R"(,"exp":1800000100,"scp":[1])").status().message(),
            "token scp holds a non-string");
  EXPECT_FALSE(
      checkJwtClaims(R"({"iss":"https://other","aud":"memberflow-api","exp":1800000100})", p, now)
          .isOk());
  EXPECT_FALSE(
      checkJwtClaims(R"({"iss":"https://issuer.example","aud":"x","exp":1800000100})", p, now)
          .isOk());
  EXPECT_FALSE(
      checkJwtClaims(R"({"iss":"https://issuer.example","exp":1800000100})", p, now).isOk());
  // Cognito's access tokens: no aud, the client in client_id, scopes under a resource server.
  JwtPolicy cognito;
  cognito.issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X";
  cognito.audience = "app-client-1";
  cognito.audienceClaim = "client_id";
  cognito.scopePrefix = "https://members.example/";
  auto c = checkJwtClaims(
      R"({"iss":"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X","token_use":"access",)"
      R"("client_id":"app-client-1","exp":1800000100,)"
      R"("scope":"https://members.example/member:read https://other.example/member:write"})",
      cognito, now);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->scopes,
            (std::set<std::string>{"member:read", "https://other.example/member:write"}));
  EXPECT_FALSE(checkJwtClaims(R"({"iss":"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X",)"
                              R"("client_id":"app-client-2","exp":1800000100})",
                              cognito, now)
                   .isOk());
  p.skewSeconds = 301;
  EXPECT_FALSE(checkPolicy(p).isOk());
}

class FakeJwksServer final : public HttpClient {
 public:
  HttpResult send(const HttpRequest& r) override {
    ++calls;
    last = r.url;
    HttpResult out;
    if (down) {
      out.transport = HttpResult::Transport::kNotSent;
      out.error = "refused";
      return out;
    }
    out.response.status = 200;
    out.response.body = body;
    out.response.headers = {{"cache-control", cacheControl}};
    return out;
  }
  int calls = 0;
  bool down = false;
  std::string last, body, cacheControl = "public, max-age=600";
};

TEST(JwtKeySources, UrlSetFollowsCacheControlRefreshesOnUnknownKidRateLimitedAndSurvivesOutages) {
  auto key = [](const std::string& kid) {
    return R"({"kty":"EC","crv":"P-256","kid":")" + kid +
           R"(","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})";
  };
  FakeJwksServer http;
  http.body = R"({"keys":[)" + key("k1") + "]}";
  ManualClock clock{1'000'000};
  UrlKeySource src(http, "https://issuer.example/.well-known/jwks.json", clock, 30000);
  auto s = src.keys(false);
  ASSERT_TRUE(s.isOk()) << s.status().toString();
  EXPECT_EQ((*s)->keys().at(0).kid, "k1");
  EXPECT_EQ(http.last, "https://issuer.example/.well-known/jwks.json");
  clock.advance(599'000);
  (void)src.keys(false);
  EXPECT_EQ(http.calls, 1);  // fresh for max-age=600
  http.body = R"({"keys":[)" + key("k1") + "," + key("k2") + "]}";
  (void)src.keys(true);  // an unknown kid: fetched again (30 s since the last fetch)
  EXPECT_EQ(http.calls, 2);
  auto again = src.keys(true);
  EXPECT_EQ(http.calls, 2);  // within 30 s of the last fetch: not again
  EXPECT_EQ((*again)->keys().size(), 2u);
  http.down = true;
  clock.advance(601'000);  // stale, and the issuer is unreachable: the last set stays
  auto kept = src.keys(false);
  ASSERT_TRUE(kept.isOk());
  EXPECT_EQ((*kept)->keys().size(), 2u);
  EXPECT_EQ(http.calls, 3);
  http.down = false;
  http.cacheControl = "no-store";
  clock.advance(30'000);
  (void)src.keys(false);
  EXPECT_EQ(http.calls, 4);
  clock.advance(59'000);  // no-store still keeps the set a minute (bounded fetch rate)
  (void)src.keys(false);
  EXPECT_EQ(http.calls, 4);
}

TEST(JwtKeySources, KeySetsSkipKeysTheyCannotUse) {
  // An RSA key under 2048 bits, an encryption key, a point off the curve: skipped.
  EXPECT_FALSE(JwkSet::parse(R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]})").isOk());
  EXPECT_FALSE(
      JwkSet::parse(
          R"({"keys":[{"kty":"EC","crv":"P-256","use":"enc","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})")
          .isOk());
  EXPECT_FALSE(
      JwkSet::parse(
          R"({"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"y_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})")
          .isOk());
  EXPECT_FALSE(JwkSet::parse("not json").isOk());
}

}  // namespace
}  // namespace memberflow::api
