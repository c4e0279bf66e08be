#include "api/auth.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "api/jwt.h"
#include "common/crypto.h"
#include "common/json.h"

namespace memberflow::api {

namespace {

std::shared_ptr<EVP_PKEY> readKey(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* k = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!k) return nullptr;
  char group[32] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) !=
          1 ||
      std::string(group) != "prime256v1") {
    EVP_PKEY_free(k);
    return nullptr;
  }
  return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free);
}

std::string coordinate(EVP_PKEY* k, const char* name) {
  BIGNUM* bn = nullptr;
  std::string out(32, '\0');
  if (EVP_PKEY_get_bn_param(k, name, &bn) == 1) {
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), 32);
  }
  BN_free(bn);
  return out;
}

}  // namespace

Result<std::shared_ptr<LocalSigningKey>> LocalSigningKey::loadOrCreate(const std::string& path,
                                                                       const Clock& clock) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream ss;
      ss << in.rdbuf();
      auto key = readKey(ss.str());
      if (!key) return Status::internal("signing key file is corrupt or not a P-256 key");
      return std::shared_ptr<LocalSigningKey>(new LocalSigningKey(key, clock));
    }
  }
  EVP_PKEY* fresh = EVP_EC_gen("P-256");
  if (!fresh) return Status::internal("cannot create a signing key");
  std::shared_ptr<EVP_PKEY> key(fresh, EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> mem(BIO_new(BIO_s_mem()), BIO_free);
  if (!mem ||
      PEM_write_bio_PrivateKey(mem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Status::internal("cannot encode the signing key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(mem.get(), &data);
  std::string text(data, static_cast<size_t>(n));
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::unavailable("cannot create the signing key file");
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  OPENSSL_cleanse(text.data(), text.size());
  // link() fails if another process created the key first: then use theirs.
  if (!ok) return Status::unavailable("cannot write the signing key file");
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return loadOrCreate(path, clock);
  }
  ::unlink(tmp.c_str());
  return std::shared_ptr<LocalSigningKey>(new LocalSigningKey(key, clock));
}

LocalSigningKey::LocalSigningKey(std::shared_ptr<EVP_PKEY> key, const Clock& clock)
    : key_(std::move(key)), clock_(clock) {
  std::string x = crypto::base64UrlEncode(coordinate(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X));
  std::string y = crypto::base64UrlEncode(coordinate(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y));
  // RFC 7638 thumbprint: the required members in lexicographic order, no whitespace.
  kid_ = crypto::base64UrlEncode(
      crypto::sha256("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" + x + "\",\"y\":\"" + y + "\"}"));
  json::object jwk{{"kty", "EC"}, {"crv", "P-256"}, {"x", x},      {"y", y},
                   {"kid", kid_}, {"alg", "ES256"}, {"use", "sig"}};
  jwks_ = json::serialize(json::object{{"keys", json::array{jwk}}});
  JwtPolicy policy;
  policy.algorithms = {"ES256"};
  policy.issuer = kIssuer;
  policy.audience = kAudience;
  verifier_ = std::make_unique<JwtVerifier>(
      std::make_shared<StaticKeySource>(*JwkSet::parse(jwks_)), policy, clock);
}

LocalSigningKey::~LocalSigningKey() = default;

std::string LocalSigningKey::mint(const std::string& subject,
                                  const std::vector<std::string>& scopes, int64_t ttlSeconds,
                                  const std::string& clientId) const {
  int64_t now = clock_.nowMs() / 1000;
  std::string scope;
  for (const auto& s : scopes) scope += (scope.empty() ? "" : " ") + s;
  json::object header{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", kid_}};
  json::object claims{
      {"iss", kIssuer}, {"aud", kAudience}, {"sub", subject},          {"scope", scope},
      {"iat", now},     {"nbf", now},       {"exp", now + ttlSeconds}, {"jti", crypto::uuidV4()}};
  if (!clientId.empty()) claims["client_id"] = clientId;
  std::string input = crypto::base64UrlEncode(json::serialize(header)) + "." +
                      crypto::base64UrlEncode(json::serialize(claims));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  std::string der;
  if (md && EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key_.get()) == 1 &&
      EVP_DigestSign(md.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) == 1) {
    der.resize(len);
    if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
      len = 0;
    }
    der.resize(len);
  }
  // DER ECDSA-Sig-Value to the JWS form R || S (32 bytes each).
  std::string sig(64, '\0');
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  if (ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()))) {
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(sig.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(sig.data()) + 32, 32);
    ECDSA_SIG_free(es);
  }
  return input + "." + crypto::base64UrlEncode(sig);
}

Result<Claims> LocalSigningKey::verify(const std::string& token) const {
  return verifier_->verify(token);
}

Result<Claims> VerifiedTokenCache::verify(const std::string& token) const {
  int64_t now = clock_.nowMs();
  Shard& s = shards_[std::hash<std::string>{}(token) % kShards];
  {
    std::lock_guard lock(s.mu);
    if (auto it = s.map.find(token); it != s.map.end()) {
      if (now < it->second.untilMs) return it->second.claims;
      s.map.erase(it);
    }
  }
  auto c = inner_.verify(token);
  if (!c.isOk()) return c;
  int64_t until = std::min(c->expiresAt * 1000, now + maxAge_ * 1000);
  std::lock_guard lock(s.mu);
  if (s.map.size() >= perShard_) s.map.erase(s.map.begin());
  s.map[token] = Entry{*c, until};
  return c;
}

}  // namespace memberflow::api
