// The OAuth client-credentials token provider against a scripted token endpoint.
#include "adapters/http/oauth_client.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/crypto.h"
#include "support/test_support.h"

namespace memberflow::http {
namespace {

using memberflow::testing::ManualClock;

class FakeTokenServer final : public HttpClient {
 public:
  HttpResult send(const HttpRequest& r) override {
    requests.push_back(r);
    HttpResult out;
    out.response.status = status;
    out.response.body = status == 200 ? R"({"access_token":"t)" + std::to_string(requests.size()) +
                                            R"(","token_type":"Bearer","expires_in":3600})"
                                      : R"({"error":"invalid_client"})";
    return out;
  }
  std::vector<HttpRequest> requests;
  int status = 200;
};

TEST(ClientCredentials, CognitoShapeCachedUntilExpiryAndOneRefreshPerRejectedToken) {
  FakeTokenServer http;
  ManualClock clock{1'000'000};
  ClientCredentialsTokens tokens(
      http, "https://auth.example/oauth2/token", "sync client",
      [] { return Result<std::string>(std::string("s3cr:et")); }, "member:read member:write",
      clock);
  EXPECT_EQ(*tokens.token(false), "t1");
  const HttpRequest& r = http.requests.at(0);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "https://auth.example/oauth2/token");
  EXPECT_EQ(r.body, "grant_type=client_credentials&scope=member%3Aread%20member%3Awrite");
  // RFC 6749 2.3.1: id and secret form-encoded (a space as %20, a colon as %3A) before Basic.
  auto authz = std::find_if(r.headers.begin(), r.headers.end(),
                            [](const auto& h) { return h.first == "Authorization"; });
  ASSERT_NE(authz, r.headers.end());
  EXPECT_EQ(authz->second, "Basic " + crypto::base64Encode("sync%20client:s3cr%3Aet"));
  clock.advance(3'500'000);
  EXPECT_EQ(*tokens.token(false), "t1");  // cached until a minute before expiry
  // Many workers meeting the same 401: one refresh; a rejection of the old token after it is no-op.
  EXPECT_EQ(*tokens.refresh("t1"), "t2");
  EXPECT_EQ(*tokens.refresh("t1"), "t2");
  EXPECT_EQ(http.requests.size(), 2u);
  clock.advance(3'541'000);
  EXPECT_EQ(*tokens.token(false), "t3");  // 59 s before expiry: refreshed
  http.status = 401;
  auto refused = tokens.refresh("t3");
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
  EXPECT_EQ(refused.status().message(), "oauth: token endpoint answered 401 invalid_client");
}

}  // namespace
}  // namespace memberflow::http
