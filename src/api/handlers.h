// File: handlers.h
// The Member API (DESIGN.md §5) independent of the HTTP transport: a request in, a response
// out. The Beast server (http_server.h) and the tests both call MemberApi::handle.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "api/auth.h"
#include "api/member_cache.h"
#include "ports/clock.h"
#include "ports/member_store.h"

namespace memberflow::api {

struct ApiRequest {
  std::string method;
  std::string target;  // origin-form: path and query
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& lowerName) const {
    auto it = headers.find(lowerName);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct ApiResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct ApiOptions {
  size_t maxBodyBytes = 1 << 20;
};

// The problem+json response of RFC 9457, with a stable type per error.
ApiResponse problem(int status, const std::string& slug, const std::string& title,
                    const std::string& detail);

// The OpenAPI document (docs/openapi.json), embedded at build time.
std::string_view openapiDocument();

class MemberApi {
 public:
  // `cache` (optional) serves reads without the store; this API invalidates what it writes.
  MemberApi(MemberStore& store, const Authenticator& auth, const Clock& clock, ApiOptions opts,
            MemberCache* cache = nullptr)
      : store_(store), auth_(auth), clock_(clock), opts_(opts), cache_(cache) {}

  // Thread-safe.
  ApiResponse handle(const ApiRequest& req) const;

 private:
  ApiResponse route(const ApiRequest& req, const std::string& path,
                    const std::map<std::string, std::string>& query) const;
  ApiResponse getMember(const std::string& id, const ApiRequest& req) const;
  ApiResponse write(WriteKind kind, const std::string& id, const ApiRequest& req) const;
  ApiResponse history(const std::string& id) const;
  ApiResponse list(const std::map<std::string, std::string>& query) const;

  MemberStore& store_;
  const Authenticator& auth_;
  const Clock& clock_;
  ApiOptions opts_;
  MemberCache* cache_;
};

}  // namespace memberflow::api
