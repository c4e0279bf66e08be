#include "api/http_api_event.h"

#include <algorithm>
#include <cctype>

#include "common/crypto.h"

namespace memberflow::api {

Result<ApiRequest> requestFromHttpApiEvent(const json::value& event) {
  if (!event.is_object()) return Status::invalidArgument("not an HTTP API event: no object");
  const auto& e = event.get_object();
  if (stringField(e, "version").value_or("") != "2.0")
    return Status::invalidArgument("not an HTTP API event: version is not 2.0");
  const json::value* ctx = field(e, "requestContext");
  const json::value* http = ctx && ctx->is_object() ? field(ctx->get_object(), "http") : nullptr;
  if (!http || !http->is_object())
    return Status::invalidArgument("not an HTTP API event: no requestContext.http");
  ApiRequest r;
  r.method = stringField(http->get_object(), "method").value_or("");
  r.remoteAddress = stringField(http->get_object(), "sourceIp").value_or("");
  std::string path = stringField(e, "rawPath").value_or("");
  if (r.method.empty() || path.empty() || path[0] != '/')
    return Status::invalidArgument("not an HTTP API event: no method or rawPath");
  std::string query = stringField(e, "rawQueryString").value_or("");
  r.target = query.empty() ? path : path + "?" + query;
  if (const json::value* h = field(e, "headers"); h && h->is_object()) {
    for (const auto& kv : h->get_object()) {
      if (!kv.value().is_string()) continue;
      std::string name(kv.key());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      r.headers[name] = std::string(kv.value().get_string());
    }
  }
  if (const json::value* c = field(e, "cookies"); c && c->is_array()) {
    std::string joined;
    for (const auto& v : c->get_array()) {
      if (v.is_string()) joined += (joined.empty() ? "" : "; ") + std::string(v.get_string());
    }
    if (!joined.empty()) r.headers["cookie"] = joined;
  }
  if (auto body = stringField(e, "body")) {
    const json::value* b64 = field(e, "isBase64Encoded");
    if (b64 && b64->is_bool() && b64->get_bool()) {
      auto d = crypto::base64Decode(*body);
      if (!d) return Status::invalidArgument("HTTP API event: the body is not base64");
      r.body = std::move(*d);
    } else {
      r.body = std::move(*body);
    }
  }
  return r;
}

std::string httpApiResponse(const ApiResponse& r) {
  json::object headers;
  json::array cookies;
  for (const auto& [name, value] : r.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "set-cookie") {
      cookies.push_back(json::string(value));
      continue;
    }
    if (auto* prev = headers.if_contains(name); prev && prev->is_string()) {
      *prev = json::string(std::string(prev->get_string()) + ", " + value);
    } else {
      headers[name] = value;
    }
  }
  json::object out{{"statusCode", r.status},
                   {"headers", std::move(headers)},
                   {"body", r.body},
                   {"isBase64Encoded", false}};
  if (!cookies.empty()) out["cookies"] = std::move(cookies);
  return toJson(out);
}

}  // namespace memberflow::api
