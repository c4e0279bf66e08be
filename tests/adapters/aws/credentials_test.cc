// The AWS credentials chain: profile file, container endpoint (our own HTTP server on port
// 0), web identity through STS (the moto server), precedence and expiry-aware refresh.
#include "adapters/aws/credentials.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>

#include "adapters/http/curl_http_client.h"
#include "api/http_server.h"
#include "common/time.h"
#include "support/test_support.h"

namespace memberflow::aws {
namespace {

using memberflow::testing::ManualClock;
using memberflow::testing::TempDir;

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v :
         {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
          "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
          "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"}) {
      unsetenv(v);
    }
    setenv("HOME", dir.path().c_str(), 1);  // no ~/.aws of the machine
  }
  TempDir dir;
  ManualClock clock{1795008556853};
  http::CurlHttpClient http;
};

TEST_F(CredentialsTest, ProfileFileAndPrecedence) {
  std::ofstream(dir.file("creds"))
      << "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n"
         "\n[ci]\naws_access_key_id=AKIDCI\naws_secret_access_key=s2\naws_session_token=t2\n";
  setenv("AWS_SHARED_CREDENTIALS_FILE", dir.file("creds").c_str(), 1);
  EXPECT_EQ(ProfileCredentials().get()->accessKeyId, "AKIDDEFAULT");
  setenv("AWS_PROFILE", "ci", 1);
  auto c = ProfileCredentials().get();
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->accessKeyId, "AKIDCI");
  EXPECT_EQ(c->sessionToken, "t2");
  setenv("AWS_PROFILE", "missing", 1);
  EXPECT_EQ(ProfileCredentials().get().status().code(), Code::kNotFound);
  // The environment comes first in the chain.
  setenv("AWS_PROFILE", "ci", 1);
  setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "s0", 1);
  EXPECT_EQ(CredentialsChain::standard(http, "http://127.0.0.1:1", clock)->get()->accessKeyId,
            "AKIDENV");
  unsetenv("AWS_ACCESS_KEY_ID");
  EXPECT_EQ(CredentialsChain::standard(http, "http://127.0.0.1:1", clock)->get()->accessKeyId,
            "AKIDCI");
}

TEST_F(CredentialsTest, ContainerCredentialsAreRefreshedBeforeTheyExpire) {
  std::atomic<int> calls{0};
  api::ServerOptions so;
  so.port = 0;
  api::HttpServer server(
      [&](const api::ApiRequest& r) -> api::ApiResponse {
        if (r.header("authorization") != "task-token") return {401, {}, "{}"};
        ++calls;
        std::string exp = isoMillis(clock.nowMs() + 10 * 60 * 1000);
        return {200,
                {{"Content-Type", "application/json"}},
                R"({"AccessKeyId":"ASIA)" + std::to_string(calls.load()) +
                    R"(","SecretAccessKey":"s","Token":"t","Expiration":")" + exp + R"("})"};
      },
      so);
  ASSERT_TRUE(server.start().isOk());
  setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI",
         ("http://127.0.0.1:" + std::to_string(server.port()) + "/creds").c_str(), 1);
  setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "task-token", 1);
  auto chain = CredentialsChain::standard(http, "http://127.0.0.1:1", clock);
  EXPECT_EQ(chain->get()->accessKeyId, "ASIA1");
  EXPECT_EQ(chain->get()->accessKeyId, "ASIA1");  // cached
  EXPECT_EQ(calls.load(), 1);
  clock.advance(6 * 60 * 1000);  // within five minutes of the expiry
  EXPECT_EQ(chain->get()->accessKeyId, "ASIA2");
  EXPECT_EQ(calls.load(), 2);
  setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong", 1);
  EXPECT_EQ(ContainerCredentials(http).get().status().code(),
            Code::kUnavailable);  // configured, failing
  server.stop();
}

TEST_F(CredentialsTest, WebIdentityThroughSts) {
  const char* endpoint = std::getenv("MEMBERFLOW_TEST_AWS_ENDPOINT");
  if (!endpoint) GTEST_SKIP() << "no AWS endpoint (see adapters/aws/contracts_test.cc)";
  std::ofstream(dir.file("token")) << "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzYSJ9.c2ln\n";
  setenv("AWS_WEB_IDENTITY_TOKEN_FILE", dir.file("token").c_str(), 1);
  setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/memberflow-ingest", 1);
  auto c = WebIdentityCredentials(http, endpoint).get();
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_FALSE(c->accessKeyId.empty());
  EXPECT_FALSE(c->sessionToken.empty());
  EXPECT_GT(c->expiresAtMs, 0);
}

}  // namespace
}  // namespace memberflow::aws
