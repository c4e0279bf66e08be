// File: handlers.h
// The Member API (DESIGN.md §5) independent of the HTTP transport: a request in, a response
// out. The Beast server (http_server.h) and the tests both call MemberApi::handle.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "api/auth.h"
#include "api/member_cache.h"
#include "api/rate_limit.h"
#include "ports/clock.h"
#include "ports/member_store.h"
#include "ports/parking.h"

namespace memberflow::api {

struct ApiRequest {
  std::string method;
  std::string target;                          // origin-form: path and query
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string remoteAddress;  // the peer's IP address (rate limiting of failed authentications)
  // The header's value, or an empty string. (A reference: the bearer token is read on every
  // request and is large.)
  const std::string& header(const std::string& lowerName) const {
    static const std::string kNone;
    auto it = headers.find(lowerName);
    return it == headers.end() ? kNone : it->second;
  }
};

struct ApiResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct ApiOptions {
  size_t maxBodyBytes = 1 << 20;
  // Operations endpoints served without a token: any of healthz, readyz, metrics, openapi.
  // The others need a valid bearer token (any scope).
  std::set<std::string> openEndpoints{"healthz", "readyz", "metrics", "openapi"};
  // Per client (the token's client_id, else its subject): requests per second and burst;
  // 0: no limit. Requests that fail authentication are limited per remote address.
  double ratePerClient = 0;
  double rateBurst = 0;
  std::set<std::string> rateExempt;  // clients not limited (the pipeline's own sync client)
  double failedAuthPerAddress = 0;
  // Peers (load balancers) whose X-Forwarded-For names the client: behind them, the address
  // limited is the rightmost one they did not add. Empty: the header is ignored.
  std::set<std::string> trustedProxies;
  // Extra routes answered before the member routes (the embedded /oauth2/token and
  // /.well-known/jwks.json); they handle their own authentication.
  std::map<std::string, std::function<ApiResponse(const ApiRequest&)>> extraRoutes;
  // The operator console (console/console_api.h), when the process serves it: its page and
  // assets (/console, /console/assets/...) without a token, and its endpoints (/console/api/...)
  // with the verified claims (they check their own scope). Unset: 404.
  std::function<ApiResponse(const std::string& path)> consoleAssets;
  std::function<ApiResponse(const ApiRequest&, const std::string& path,
                            const std::map<std::string, std::string>& query, const Claims&)>
      consoleApi;
  // Serves GET /member/{id}/parking (whether sync holds the member's changes); none: 404.
  ParkingStore* parking = nullptr;
};

// The problem+json response of RFC 9457, with a stable type per error.
ApiResponse problem(int status, const std::string& slug, const std::string& title,
                    const std::string& detail);

// The OpenAPI document (docs/openapi.json), embedded at build time.
std::string_view openapiDocument();

// A write request's body and lineage, already parsed (MemberApi::prepareWrite).
struct WriteParts {
  const json::value* body = nullptr;
  const json::object* lineage = nullptr;
};

class MemberApi {
 public:
  // `cache` (optional) serves reads without the store; this API invalidates what it writes.
  MemberApi(MemberStore& store, const Authenticator& auth, const Clock& clock, ApiOptions opts,
            MemberCache* cache = nullptr)
      : store_(store),
        auth_(auth),
        clock_(clock),
        opts_(std::move(opts)),
        cache_(cache),
        clientLimit_(std::make_unique<RateLimiter>(opts_.ratePerClient, opts_.rateBurst)),
        failureLimit_(std::make_unique<RateLimiter>(opts_.failedAuthPerAddress,
                                                    10 * opts_.failedAuthPerAddress)) {}

  // Thread-safe.
  ApiResponse handle(const ApiRequest& req) const;

 private:
  ApiResponse route(const ApiRequest& req, const std::string& path,
                    const std::map<std::string, std::string>& query) const;
  ApiResponse operations(const std::string& name) const;
  static ApiResponse tooMany(int64_t retryAfterSeconds);
  std::string clientAddress(const ApiRequest& req) const;
  ApiResponse getMember(const std::string& id, const ApiRequest& req) const;
  ApiResponse write(WriteKind kind, const std::string& id, const ApiRequest& req) const;
  // A write request checked and turned into the store's write, or the response that ends it.
  // A batch item's body and lineage come parsed already (WriteParts; the request still carries
  // their text: the idempotency fingerprint hashes it).
  std::variant<ApiResponse, StoreWrite> prepareWrite(WriteKind kind, const std::string& id,
                                                     const ApiRequest& req,
                                                     WriteParts parsed = WriteParts()) const;
  // The response to a write the store applied (or failed). For a minimal response
  // (StoreWrite::minimalResponse: a batch write with `Prefer: return=minimal`) the member
  // document is left out, its ETag stays.
  ApiResponse finishWrite(const StoreWrite& w, const Result<WriteOutcome>& out) const;
  // POST /members:batchWrite: each item as the same PUT or DELETE (write()) would go, in order.
  // With `Prefer: return=minimal` (RFC 7240) the results carry status, ETag and problem only.
  ApiResponse batchWrite(const ApiRequest& req) const;
  ApiResponse history(const std::string& id) const;
  ApiResponse parking(const std::string& id) const;
  ApiResponse list(const std::map<std::string, std::string>& query) const;

  MemberStore& store_;
  const Authenticator& auth_;
  const Clock& clock_;
  ApiOptions opts_;
  MemberCache* cache_;
  std::unique_ptr<RateLimiter> clientLimit_;
  std::unique_ptr<RateLimiter> failureLimit_;
};

}  // namespace memberflow::api
