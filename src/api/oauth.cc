#include "api/oauth.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "common/text.h"

namespace memberflow::api {
namespace {

bool sameSecret(const std::string& a, const std::string& b) {
  // Compare digests: constant time whatever the lengths.
  std::string da = crypto::sha256(a), db = crypto::sha256(b);
  return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0;
}

ApiResponse oauthError(int status, const char* code, const char* description) {
  ApiResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}, {"Pragma", "no-cache"}};
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"memberflow\"");
  r.body = json::serialize(json::object{{"error", code}, {"error_description", description}});
  return r;
}

}  // namespace

std::string formEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) out += (out.empty() ? "" : "&") + percentEncode(k) + "=" + percentEncode(v);
  return out;
}

std::optional<std::map<std::string, std::string>> formDecode(std::string_view body) {
  std::map<std::string, std::string> out;
  for (std::string pair : splitList(body, '&')) {
    std::replace(pair.begin(), pair.end(), '+', ' ');  // before decoding: "%2B" stays a plus
    size_t eq = pair.find('=');
    std::string k = percentDecode(pair.substr(0, eq));
    std::string v = eq == std::string::npos ? "" : percentDecode(pair.substr(eq + 1));
    // RFC 6749 §3.2: a parameter sent twice makes the request invalid.
    if (!out.emplace(std::move(k), std::move(v)).second) return std::nullopt;
  }
  return out;
}

Result<std::string> ClientCredentialsTokens::token(bool forceRefresh) {
  std::lock_guard lock(mu_);
  int64_t now = clock_.nowMs();
  if (!forceRefresh && !cached_.empty() && now < refreshAtMs_) return cached_;
  return fetch(now);
}

Result<std::string> ClientCredentialsTokens::refresh(const std::string& rejected) {
  std::lock_guard lock(mu_);
  int64_t now = clock_.nowMs();
  if (!cached_.empty() && cached_ != rejected && now < refreshAtMs_) return cached_;
  return fetch(now);
}

Result<std::string> ClientCredentialsTokens::fetch(int64_t now) {
  auto secret = secret_();
  if (!secret.isOk()) return Status::unavailable("oauth: the client secret is not available: " + secret.status().message());
  HttpRequest req;
  req.method = "POST";
  req.url = url_;
  req.timeoutMs = 10000;
  // RFC 6749 §2.3.1: id and secret form-encoded, then Basic.
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"},
                 {"Authorization", "Basic " + crypto::base64Encode(percentEncode(clientId_) + ":" + percentEncode(*secret))}};
  std::vector<std::pair<std::string, std::string>> form{{"grant_type", "client_credentials"}};
  if (!scopes_.empty()) form.emplace_back("scope", scopes_);
  req.body = formEncode(form);
  HttpResult r = http_.send(req);
  if (!r.ok()) return Status::unavailable("oauth: token endpoint unreachable: " + r.error);
  auto doc = parseJson(r.response.body);
  if (r.response.status != 200) {
    std::string code = doc.isOk() && doc->is_object() ? stringField(doc->get_object(), "error").value_or("") : "";
    return Status::unavailable("oauth: token endpoint answered " + std::to_string(r.response.status) +
                               (code.empty() ? "" : " " + code.substr(0, 40)));
  }
  if (!doc.isOk() || !doc->is_object()) return Status::unavailable("oauth: token response is not JSON");
  const json::object& o = doc->get_object();
  auto access = stringField(o, "access_token");
  auto type = stringField(o, "token_type");
  if (!access || access->empty() || !type || (*type != "Bearer" && *type != "bearer")) {
    return Status::unavailable("oauth: token response has no bearer access_token");
  }
  int64_t ttl = intField(o, "expires_in").value_or(300);
  // Refresh a minute early, or at 90 % of a short lifetime.
  int64_t margin = std::min<int64_t>(60, ttl / 10);
  cached_ = *access;
  refreshAtMs_ = now + (ttl - margin) * 1000;
  return cached_;
}

ApiResponse TokenEndpoint::handle(const ApiRequest& req) const {
  if (req.method != "POST") {
    ApiResponse r = oauthError(405, "invalid_request", "use POST");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  std::string ctype = asciiLower(req.header("content-type"));
  if (ctype.rfind("application/x-www-form-urlencoded", 0) != 0) {
    return oauthError(400, "invalid_request", "the body must be application/x-www-form-urlencoded");
  }
  auto decoded = formDecode(req.body);
  if (!decoded) return oauthError(400, "invalid_request", "a parameter is repeated");
  auto& form = *decoded;
  std::string id, secret;
  std::string authz = req.header("authorization");
  if (authz.size() > 6 && strncasecmp(authz.c_str(), "Basic ", 6) == 0) {
    auto raw = crypto::base64Decode(authz.substr(6));
    auto colon = raw ? raw->find(':') : std::string::npos;
    if (colon == std::string::npos) return oauthError(401, "invalid_client", "client authentication failed");
    id = percentDecode(raw->substr(0, colon));
    secret = percentDecode(raw->substr(colon + 1));
    if (form.count("client_secret")) return oauthError(400, "invalid_request", "use one client authentication method");
  } else {
    id = form.count("client_id") ? form["client_id"] : "";
    secret = form.count("client_secret") ? form["client_secret"] : "";
  }
  auto client = clients_.find(id);
  // Unknown client or wrong secret: the same answer, and the secret compared either way.
  bool ok = sameSecret(client == clients_.end() ? std::string() : client->second.secret, secret) &&
            client != clients_.end() && !secret.empty();
  if (!ok) {
    log::warn("token request refused", {"api", {}, {}, {}, "invalid_client", {}});
    return oauthError(401, "invalid_client", "client authentication failed");
  }
  if (form["grant_type"] != "client_credentials") {
    return oauthError(400, "unsupported_grant_type", "only client_credentials is supported");
  }
  std::vector<std::string> scopes;
  if (form.count("scope") && !form["scope"].empty()) {
    std::istringstream ss(form["scope"]);
    for (std::string s; ss >> s;) {
      if (!client->second.scopes.count(s)) return oauthError(400, "invalid_scope", "a requested scope is not allowed");
      scopes.push_back(s);
    }
  } else {
    scopes.assign(client->second.scopes.begin(), client->second.scopes.end());
  }
  ApiResponse r;
  r.headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}, {"Pragma", "no-cache"}};
  std::string scopeText;
  for (const auto& s : scopes) scopeText += (scopeText.empty() ? "" : " ") + s;
  r.body = json::serialize(json::object{{"access_token", key_->mint(id, scopes, kTokenSeconds, id)},
                                        {"token_type", "Bearer"},
                                        {"expires_in", kTokenSeconds},
                                        {"scope", scopeText}});
  return r;
}

}  // namespace memberflow::api
