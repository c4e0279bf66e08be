#include "api/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "common/text.h"

namespace memberflow::api {
namespace {

Status bad(const char* why) { return Status::invalidArgument(why); }

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using Bn = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* k) { return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free); }

const unsigned char* u8(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// A base64url member of a JWK (strictly decoded).
std::optional<std::string> b64Field(const json::object& o, std::string_view name) {
  auto s = stringField(o, name);
  if (!s || s->empty()) return std::nullopt;
  return crypto::base64UrlDecode(*s);
}

std::shared_ptr<EVP_PKEY> fromParams(const char* type, OSSL_PARAM_BLD* bld) {
  Params params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* k = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &k, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return own(k);
}

std::shared_ptr<EVP_PKEY> rsaKey(const json::object& o) {
  auto n = b64Field(o, "n");
  auto e = b64Field(o, "e");
  // At least 2048 bits; RFC 7518 §6.3.1.1: n in its fewest octets (no leading zero).
  if (!n || !e || (*n)[0] == '\0' || n->size() < 256) return nullptr;
  Bn bn(BN_bin2bn(u8(*n), static_cast<int>(n->size()), nullptr));
  Bn be(BN_bin2bn(u8(*e), static_cast<int>(e->size()), nullptr));
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bn || !be || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, be.get())) {
    return nullptr;
  }
  return fromParams("RSA", bld.get());
}

size_t ecFieldBytes(const std::string& crv) {
  if (crv == "P-256") return 32;
  if (crv == "P-384") return 48;
  if (crv == "P-521") return 66;
  return 0;
}

std::shared_ptr<EVP_PKEY> ecKey(const json::object& o, const std::string& crv) {
  size_t len = ecFieldBytes(crv);
  auto x = b64Field(o, "x");
  auto y = b64Field(o, "y");
  // RFC 7518 §6.2.1.2: the coordinates are exactly the field size.
  if (!len || !x || !y || x->size() != len || y->size() != len) return nullptr;
  const char* group = crv == "P-256" ? "prime256v1" : crv == "P-384" ? "secp384r1" : "secp521r1";
  std::string point = "\x04" + *x + *y;
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return nullptr;
  }
  return fromParams("EC", bld.get());  // the point must lie on the curve
}

std::shared_ptr<EVP_PKEY> okpKey(const json::object& o, const std::string& crv) {
  auto x = b64Field(o, "x");
  int type = crv == "Ed25519" ? EVP_PKEY_ED25519 : crv == "Ed448" ? EVP_PKEY_ED448 : 0;
  size_t len = crv == "Ed25519" ? 32 : 57;
  if (!type || !x || x->size() != len) return nullptr;
  return own(EVP_PKEY_new_raw_public_key(type, nullptr, u8(*x), x->size()));
}

std::optional<Jwk> parseKey(const json::object& o) {
  Jwk k;
  k.kty = stringField(o, "kty").value_or("");
  k.kid = stringField(o, "kid").value_or("");
  k.alg = stringField(o, "alg").value_or("");
  k.crv = stringField(o, "crv").value_or("");
  if (auto use = stringField(o, "use"); use && *use != "sig") return std::nullopt;
  if (const json::value* ops = field(o, "key_ops"); ops && ops->is_array()) {
    bool verify = false;
    for (const auto& op : ops->get_array())
      verify = verify || (op.is_string() && op.get_string() == "verify");
    if (!verify) return std::nullopt;
  }
  if (k.kty == "RSA") {
    k.key = rsaKey(o);
  } else if (k.kty == "EC") {
    k.key = ecKey(o, k.crv);
  } else if (k.kty == "OKP") {
    k.key = okpKey(o, k.crv);
  } else if (k.kty == "oct") {
    auto s = b64Field(o, "k");
    if (!s) return std::nullopt;
    k.secret = *s;
    return k;
  }
  if (!k.key) return std::nullopt;
  return k;
}

struct Alg {
  const char* name;
  const char* kty;
  const EVP_MD* (*md)();  // null for EdDSA
  enum Kind { kRsa, kPss, kEc, kEd, kHmac } kind;
  const char* crv;  // EC: the curve the algorithm is defined on
};

const EVP_MD* noMd() { return nullptr; }

const Alg* findAlg(std::string_view name) {
  static const Alg algs[] = {
      {"RS256", "RSA", EVP_sha256, Alg::kRsa, ""},
      {"RS384", "RSA", EVP_sha384, Alg::kRsa, ""},
      {"RS512", "RSA", EVP_sha512, Alg::kRsa, ""},
      {"PS256", "RSA", EVP_sha256, Alg::kPss, ""},
      {"PS384", "RSA", EVP_sha384, Alg::kPss, ""},
      {"PS512", "RSA", EVP_sha512, Alg::kPss, ""},
      {"ES256", "EC", EVP_sha256, Alg::kEc, "P-256"},
      {"ES384", "EC", EVP_sha384, Alg::kEc, "P-384"},
      {"ES512", "EC", EVP_sha512, Alg::kEc, "P-521"},
      {"EdDSA", "OKP", noMd, Alg::kEd, ""},
      {"HS256", "oct", EVP_sha256, Alg::kHmac, ""},
      {"HS384", "oct", EVP_sha384, Alg::kHmac, ""},
      {"HS512", "oct", EVP_sha512, Alg::kHmac, ""},
  };
  for (const auto& a : algs) {
    if (name == a.name) return &a;
  }
  return nullptr;
}

bool keyFits(const Jwk& k, const Alg& a) {
  if (k.kty != a.kty) return false;  // an RSA public key is never an HMAC secret
  if (!k.alg.empty() && k.alg != a.name) return false;
  if (a.kind == Alg::kEc && k.crv != a.crv) return false;
  if (a.kind == Alg::kHmac && k.secret.size() < static_cast<size_t>(EVP_MD_get_size(a.md())))
    return false;
  return true;
}

bool verifySignature(const Alg& a, const Jwk& k, std::string_view input, const std::string& sig) {
  if (a.kind == Alg::kHmac) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(a.md(), k.secret.data(), static_cast<int>(k.secret.size()),
              reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len)) {
      return false;
    }
    return sig.size() == len && CRYPTO_memcmp(mac, sig.data(), len) == 0;
  }
  std::string der;
  const std::string* s = &sig;
  if (a.kind == Alg::kEc) {
    // JWS carries R || S, each the field size; OpenSSL wants a DER ECDSA-Sig-Value.
    size_t half = ecFieldBytes(a.crv);
    if (sig.size() != 2 * half) return false;
    EcdsaSig es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(u8(sig), static_cast<int>(half), nullptr);
    BIGNUM* sv = BN_bin2bn(u8(sig) + half, static_cast<int>(half), nullptr);
    if (!es || !r || !sv || ECDSA_SIG_set0(es.get(), r, sv) != 1) {
      BN_free(r);
      BN_free(sv);
      return false;
    }
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(es.get(), &out);
    if (len <= 0) return false;
    der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
    s = &der;
  }
  MdCtx md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!md || EVP_DigestVerifyInit(md.get(), &pctx, a.md(), nullptr, k.key.get()) != 1) return false;
  if (a.kind == Alg::kRsa && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
    return false;
  if (a.kind == Alg::kPss) {
    // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, a.md()) != 1) {
      return false;
    }
  }
  return EVP_DigestVerify(md.get(), u8(*s), s->size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

// A NumericDate (RFC 7519 §2): a JSON number, possibly with a fraction.
std::optional<double> numericDate(const json::object& c, std::string_view name, bool* wrongType) {
  const json::value* v = field(c, name);
  if (!v) return std::nullopt;
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  if (v->is_double() && std::isfinite(v->get_double())) return v->get_double();
  *wrongType = true;
  return std::nullopt;
}

}  // namespace

Result<JwkSet> JwkSet::parse(std::string_view text) {
  auto doc = parseJson(text);
  if (!doc.isOk() || !doc->is_object()) return bad("the key set is not a JSON object");
  JwkSet set;
  const json::object& o = doc->get_object();
  if (const json::value* keys = field(o, "keys")) {
    if (!keys->is_array()) return bad("the key set's \"keys\" is not an array");
    for (const auto& k : keys->get_array()) {
      if (!k.is_object()) continue;
      if (auto key = parseKey(k.get_object())) set.keys_.push_back(std::move(*key));
    }
  } else if (auto key = parseKey(o)) {
    set.keys_.push_back(std::move(*key));
  }
  if (set.keys_.empty()) return bad("the key set holds no usable signature key");
  return set;
}

Status checkPolicy(const JwtPolicy& p) {
  if (p.algorithms.empty()) return bad("auth: no algorithm is accepted");
  for (const auto& a : p.algorithms) {
    if (!findAlg(a))
      return Status::invalidArgument("auth: unknown or refused algorithm " + a.substr(0, 20));
  }
  if (p.skewSeconds < 0 || p.skewSeconds > 300)
    return bad("auth: the clock skew must be 0..300 seconds");
  if (p.audienceClaim != "aud" && p.audienceClaim != "client_id")
    return bad("auth: audience_claim is aud or client_id");
  return Status::ok();
}

Result<std::string> verifyJws(std::string_view token, const JwkSet& keys, const JwtPolicy& p,
                              bool* unknownKid) {
  if (unknownKid) *unknownKid = false;
  if (token.size() > p.maxTokenBytes) return bad("token is too large");
  auto d1 = token.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return bad("token is not a compact JWS");
  }
  auto headerRaw = crypto::base64UrlDecode(token.substr(0, d1));
  auto payload = crypto::base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig = crypto::base64UrlDecode(token.substr(d2 + 1));
  if (!headerRaw || !payload || !sig) return bad("token has malformed base64url");
  if (d1 == 0 || d2 == d1 + 1)
    return bad("token has an empty part");  // detached payloads are not tokens
  auto header = parseJson(*headerRaw);
  if (!header.isOk() || !header->is_object()) return bad("token header is not a JSON object");
  const json::object& h = header->get_object();
  auto algName = stringField(h, "alg");
  if (!algName) return bad("token header has no algorithm");
  const Alg* alg = findAlg(*algName);
  if (!alg || !p.algorithms.count(*algName)) return bad("token algorithm is not accepted");
  // Keys come from the configured key set only; extensions are not understood.
  for (const char* name : {"jwk", "jku", "x5u", "x5c"}) {
    if (h.contains(name)) return bad("token header carries its own key or key location");
  }
  if (h.contains("crit") || h.contains("b64")) return bad("token has critical header parameters");
  if (const json::value* typ = field(h, "typ")) {
    std::string t = typ->is_string() ? asciiLower(typ->get_string()) : "?";
    if (t.rfind("application/", 0) == 0) t = t.substr(12);
    if (t != "jwt" && t != "at+jwt") return bad("token type is not a JWT");
  }
  const Jwk* key = nullptr;
  if (const json::value* kid = field(h, "kid")) {
    if (!kid->is_string()) return bad("token kid is not a string");
    for (const auto& k : keys.keys()) {
      if (k.kid == kid->get_string()) key = &k;
    }
    if (!key) {
      if (unknownKid) *unknownKid = true;
      return bad("token key is unknown");
    }
    if (!keyFits(*key, *alg)) return bad("token algorithm does not match its key");
  } else {
    for (const auto& k : keys.keys()) {
      if (!keyFits(k, *alg)) continue;
      if (key) return bad("token names no key and several keys could verify it");
      key = &k;
    }
    if (!key) return bad("token algorithm does not match any key");
  }
  if (!verifySignature(*alg, *key, token.substr(0, d2), *sig))
    return bad("token signature is invalid");
  return std::move(*payload);
}

Result<Claims> checkJwtClaims(std::string_view payloadText, const JwtPolicy& p, int64_t now) {
  auto payload = parseJson(payloadText);
  if (!payload.isOk() || !payload->is_object()) return bad("token claims are not a JSON object");
  const json::object& c = payload->get_object();
  bool wrongType = false;
  auto exp = numericDate(c, "exp", &wrongType);
  auto nbf = numericDate(c, "nbf", &wrongType);
  auto iat = numericDate(c, "iat", &wrongType);
  if (wrongType) return bad("token has a date claim that is not a number");
  const double skew = static_cast<double>(p.skewSeconds);
  const double t = static_cast<double>(now);
  if (!exp) return bad("token has no expiry");
  if (t >= *exp + skew) return bad("token has expired");
  if (nbf && t + skew < *nbf) return bad("token is not valid yet");
  if (iat && t + skew < *iat) return bad("token was issued in the future");
  if (!p.issuer.empty()) {
    const json::value* iss = field(c, "iss");
    if (!iss || !iss->is_string() || iss->get_string() != p.issuer)
      return bad("token issuer is not accepted");
  }
  if (!p.audience.empty()) {
    bool ok = false;
    if (const json::value* aud = field(c, p.audienceClaim)) {
      if (aud->is_string()) ok = aud->get_string() == p.audience;
      if (aud->is_array()) {
        for (const auto& a : aud->get_array())
          ok = ok || (a.is_string() && a.get_string() == p.audience);
      }
    }
    if (!ok) return bad("token audience is not accepted");
  }
  Claims out;
  if (const json::value* sub = field(c, "sub")) {
    if (!sub->is_string()) return bad("token subject is not a string");
    out.subject = std::string(sub->get_string());
  }
  if (auto cid = stringField(c, "client_id")) out.clientId = *cid;
  out.expiresAt = static_cast<int64_t>(*exp);
  auto addScope = [&](std::string s) {
    if (!p.scopePrefix.empty() && s.rfind(p.scopePrefix, 0) == 0)
      s = s.substr(p.scopePrefix.size());
    out.scopes.insert(std::move(s));
  };
  auto addScopes = [&](std::string_view text) {
    std::istringstream ss{std::string(text)};
    for (std::string s; ss >> s;) addScope(s);
  };
  if (const json::value* scope = field(c, "scope")) {
    if (!scope->is_string()) return bad("token scope is not a string");
    addScopes(scope->get_string());
  }
  if (const json::value* scp = field(c, "scp")) {
    if (scp->is_string()) {
      addScopes(scp->get_string());
    } else if (scp->is_array()) {
      for (const auto& s : scp->get_array()) {
        if (!s.is_string()) return bad("token scp holds a non-string");
        addScope(std::string(s.get_string()));
      }
    } else {
      return bad("token scp is neither a string nor an array");
    }
  }
  return out;
}

Result<std::shared_ptr<StaticKeySource>> StaticKeySource::fromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::unavailable("auth: cannot read the key set file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  auto set = JwkSet::parse(ss.str());
  if (!set.isOk()) return Status::invalidArgument("auth: " + path + ": " + set.status().message());
  return std::make_shared<StaticKeySource>(std::move(*set));
}

int UrlKeySource::fetches() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

Result<std::shared_ptr<const JwkSet>> UrlKeySource::keys(bool refresh) {
  int64_t now = clock_.nowMs();
  {
    std::lock_guard lock(mu_);
    bool stale = !set_ || now >= freshUntilMs_;
    bool allowed = lastFetchMs_ < 0 || now - lastFetchMs_ >= minRefreshMs_;
    // One fetch at a time, outside the lock: verifications meanwhile use the last set.
    if (!(stale || refresh) || !allowed || fetching_) {
      if (!set_) return Status::unavailable("auth: the key set could not be fetched");
      return set_;
    }
    fetching_ = true;
    lastFetchMs_ = now;
    ++fetches_;
  }
  HttpRequest req;
  req.url = url_;
  req.headers = {{"Accept", "application/json"}};
  req.timeoutMs = 5000;
  HttpResult r = http_.send(req);
  std::string why;
  std::shared_ptr<const JwkSet> fresh;
  int64_t maxAge = 300;
  if (!r.ok()) {
    why = "unreachable: " + r.error;
  } else if (r.response.status != 200) {
    why = "HTTP " + std::to_string(r.response.status);
  } else if (auto set = JwkSet::parse(r.response.body); !set.isOk()) {
    why = set.status().message();
  } else {
    fresh = std::make_shared<const JwkSet>(std::move(*set));
    std::string cc = asciiLower(r.response.header("cache-control"));
    if (auto at = cc.find("max-age="); at != std::string::npos)
      maxAge = std::strtoll(cc.c_str() + at + 8, nullptr, 10);
    if (cc.find("no-store") != std::string::npos || cc.find("no-cache") != std::string::npos)
      maxAge = 0;
  }
  if (!why.empty()) {
    log::warn("key set fetch failed, keeping the last one",
              {"api", {}, {}, {}, "jwks_fetch_failed", why});
  }
  std::lock_guard lock(mu_);
  fetching_ = false;
  if (fresh) {
    set_ = std::move(fresh);
    freshUntilMs_ = now + std::clamp<int64_t>(maxAge, 60, 86400) * 1000;
  }
  if (!set_) return Status::unavailable("auth: the key set could not be fetched");
  return set_;
}

Result<Claims> JwtVerifier::verify(const std::string& token) const {
  auto keys = keys_->keys(false);
  if (!keys.isOk()) return keys.status();
  bool unknownKid = false;
  auto payload = verifyJws(token, **keys, policy_, &unknownKid);
  if (!payload.isOk() && unknownKid) {
    // A key rotated in since the set was fetched: fetch again (rate-limited) and retry once.
    keys = keys_->keys(true);
    if (!keys.isOk()) return keys.status();
    payload = verifyJws(token, **keys, policy_);
  }
  if (!payload.isOk()) return payload.status();
  return checkJwtClaims(*payload, policy_, clock_.nowMs() / 1000);
}

}  // namespace memberflow::api
