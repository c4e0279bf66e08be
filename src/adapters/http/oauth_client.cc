#include "adapters/http/oauth_client.h"

#include <algorithm>

#include "common/crypto.h"
#include "common/json.h"
#include "common/text.h"

namespace memberflow::http {

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
  if (!secret.isOk())
    return Status::unavailable("oauth: the client secret is not available: " +
                               secret.status().message());
  HttpRequest req;
  req.method = "POST";
  req.url = url_;
  req.timeoutMs = 10000;
  // RFC 6749 §2.3.1: id and secret form-encoded, then Basic.
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"},
                 {"Authorization", "Basic " + crypto::base64Encode(percentEncode(clientId_) + ":" +
                                                                   percentEncode(*secret))}};
  std::vector<std::pair<std::string, std::string>> form{{"grant_type", "client_credentials"}};
  if (!scopes_.empty()) form.emplace_back("scope", scopes_);
  req.body = formEncode(form);
  HttpResult r = http_.send(req);
  if (!r.ok()) return Status::unavailable("oauth: token endpoint unreachable: " + r.error);
  auto doc = parseJson(r.response.body);
  if (r.response.status != 200) {
    std::string code =
        doc.isOk() && doc->is_object() ? stringField(doc->get_object(), "error").value_or("") : "";
    return Status::unavailable("oauth: token endpoint answered " +
                               std::to_string(r.response.status) +
                               (code.empty() ? "" : " " + code.substr(0, 40)));
  }
  if (!doc.isOk() || !doc->is_object())
    return Status::unavailable("oauth: token response is not JSON");
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

}  // namespace memberflow::http
