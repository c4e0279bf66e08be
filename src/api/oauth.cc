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
  r.headers = {
      {"Content-Type", "application/json"}, {"Cache-Control", "no-store"}, {"Pragma", "no-cache"}};
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"memberflow\"");
  r.body = json::serialize(json::object{{"error", code}, {"error_description", description}});
  return r;
}

}  // namespace

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
  const bool viaHeader = authz.size() > 6 && strncasecmp(authz.c_str(), "Basic ", 6) == 0;
  if (viaHeader) {
    auto raw = crypto::base64Decode(authz.substr(6));
    auto colon = raw ? raw->find(':') : std::string::npos;
    if (colon == std::string::npos)
      return oauthError(401, "invalid_client", "client authentication failed");
    id = percentDecode(raw->substr(0, colon));
    secret = percentDecode(raw->substr(colon + 1));
    if (form.count("client_secret"))
      return oauthError(400, "invalid_request", "use one client authentication method");
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
    // RFC 6749 5.2: a 401 with a Basic challenge when the client authenticated with the
    // Authorization header; credentials in the body get a 400, so that a browser (the console's
    // login) never prompts for a user name and password.
    return oauthError(viaHeader ? 401 : 400, "invalid_client", "client authentication failed");
  }
  if (form["grant_type"] != "client_credentials") {
    return oauthError(400, "unsupported_grant_type", "only client_credentials is supported");
  }
  std::vector<std::string> scopes;
  if (form.count("scope") && !form["scope"].empty()) {
    std::istringstream ss(form["scope"]);
    for (std::string s; ss >> s;) {
      if (!client->second.scopes.count(s))
        return oauthError(400, "invalid_scope", "a requested scope is not allowed");
      scopes.push_back(s);
    }
  } else {
    scopes.assign(client->second.scopes.begin(), client->second.scopes.end());
  }
  ApiResponse r;
  r.headers = {
      {"Content-Type", "application/json"}, {"Cache-Control", "no-store"}, {"Pragma", "no-cache"}};
  std::string scopeText;
  for (const auto& s : scopes) scopeText += (scopeText.empty() ? "" : " ") + s;
  r.body = json::serialize(json::object{{"access_token", key_->mint(id, scopes, kTokenSeconds, id)},
                                        {"token_type", "Bearer"},
                                        {"expires_in", kTokenSeconds},
                                        {"scope", scopeText}});
  return r;
}

}  // namespace memberflow::api
