#include "api/auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "common/crypto.h"
#include "common/json.h"

namespace memberflow::api {

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
      auto key = crypto::base64Decode(ss.str().substr(0, ss.str().find('\n')));
      if (!key || key->size() < 32) return Status::internal("signing key file is corrupt");
      return std::make_shared<LocalSigningKey>(*key, clock);
    }
  }
  std::string key = crypto::randomBytes(32);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::unavailable("cannot create the signing key file");
  std::string text = crypto::base64Encode(key) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  // link() fails if another process created the key first: then use theirs.
  if (!ok) return Status::unavailable("cannot write the signing key file");
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return loadOrCreate(path, clock);
  }
  ::unlink(tmp.c_str());
  return std::make_shared<LocalSigningKey>(key, clock);
}

std::string LocalSigningKey::mint(const std::string& subject,
                                  const std::vector<std::string>& scopes,
                                  int64_t ttlSeconds) const {
  int64_t now = clock_.nowMs() / 1000;
  std::string scope;
  for (const auto& s : scopes) scope += (scope.empty() ? "" : " ") + s;
  json::object header{{"alg", "HS256"}, {"typ", "JWT"}};
  json::object claims{{"iss", kIssuer}, {"aud", kAudience}, {"sub", subject},
                      {"scope", scope}, {"iat", now},       {"nbf", now},
                      {"exp", now + ttlSeconds}, {"jti", crypto::uuidV4()}};
  std::string signingInput = crypto::base64UrlEncode(json::serialize(header)) + "." +
                             crypto::base64UrlEncode(json::serialize(claims));
  return signingInput + "." + crypto::base64UrlEncode(crypto::hmacSha256(key_, signingInput));
}

Result<Claims> LocalSigningKey::verify(const std::string& token) const {
  auto bad = [](const char* why) { return Status::invalidArgument(why); };
  auto d1 = token.find('.');
  auto d2 = d1 == std::string::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string::npos || token.find('.', d2 + 1) != std::string::npos) {
    return bad("token is not a compact JWS");
  }
  auto headerRaw = crypto::base64UrlDecode(std::string_view(token).substr(0, d1));
  auto payloadRaw = crypto::base64UrlDecode(std::string_view(token).substr(d1 + 1, d2 - d1 - 1));
  auto sig = crypto::base64UrlDecode(std::string_view(token).substr(d2 + 1));
  if (!headerRaw || !payloadRaw || !sig) return bad("token has malformed base64url");
  auto header = parseJson(*headerRaw);
  if (!header.isOk() || !header->is_object()) return bad("token header is not a JSON object");
  // Only the algorithm this key is for: "none" and algorithm confusion are refused.
  if (stringField(header->get_object(), "alg") != std::optional<std::string>("HS256")) {
    return bad("token algorithm is not accepted");
  }
  if (header->get_object().contains("crit")) return bad("token has critical header parameters");
  std::string expected = crypto::hmacSha256(key_, token.substr(0, d2));
  if (!crypto::equalConstantTime(expected, *sig)) return bad("token signature is invalid");
  auto payload = parseJson(*payloadRaw);
  if (!payload.isOk() || !payload->is_object()) return bad("token claims are not a JSON object");
  const json::object& c = payload->get_object();
  int64_t now = clock_.nowMs() / 1000;
  if (stringField(c, "iss") != std::optional<std::string>(kIssuer)) return bad("token issuer is not accepted");
  bool audOk = stringField(c, "aud") == std::optional<std::string>(kAudience);
  if (const json::value* aud = field(c, "aud"); aud && aud->is_array()) {
    for (const auto& a : aud->get_array()) audOk = audOk || (a.is_string() && a.get_string() == kAudience);
  }
  if (!audOk) return bad("token audience is not accepted");
  auto exp = intField(c, "exp");
  if (!exp) return bad("token has no expiry");
  if (now > *exp + kSkewSeconds) return bad("token has expired");
  if (auto nbf = intField(c, "nbf"); nbf && now + kSkewSeconds < *nbf) {
    return bad("token is not valid yet");
  }
  Claims out;
  out.subject = stringField(c, "sub").value_or("");
  out.expiresAt = *exp;
  std::string scope = stringField(c, "scope").value_or("");
  std::istringstream ss(scope);
  for (std::string s; ss >> s;) out.scopes.insert(s);
  return out;
}

Result<std::string> LocalTokenProvider::token(bool forceRefresh) {
  std::lock_guard lock(mu_);
  int64_t now = clock_.nowMs();
  if (forceRefresh || cached_.empty() || now > expiresAtMs_ - 60000) {
    const int64_t ttl = 900;
    cached_ = key_->mint("memberflow-sync", {"member:read", "member:write"}, ttl);
    expiresAtMs_ = now + ttl * 1000;
  }
  return cached_;
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
