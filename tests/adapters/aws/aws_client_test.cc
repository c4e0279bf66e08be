// AwsClient without a server: its retry (a scripted HttpClient answers, and the backoff between
// tries sleeps on a ManualClock, so every delay it asks for is seen and a stop can end it) and
// the error codes it reads from the services' error bodies.
#include "adapters/aws/aws_client.h"

#include <gtest/gtest.h>

#include <future>

#include "support/fakes.h"
#include "support/stage_loop.h"
#include "support/test_support.h"

namespace memberflow::aws {
namespace {

using std::chrono::milliseconds;
using testing::jitterDelays;
using testing::kStep;
using testing::ManualClock;
using testing::ScriptedHttp;

struct StaticCredentials final : CredentialsProvider {
  Result<Credentials> get() override { return Credentials{"AKIDTEST", "secret-test", "", 0}; }
};

class AwsClientRetryTest : public ::testing::Test {
 protected:
  ScriptedHttp http;
  StaticCredentials creds;
  ManualClock clock;
  AwsConfig cfg = [] {
    AwsConfig c;
    c.endpoint = "http://aws.test";
    c.retry = {100, 5000, 4};
    c.jitterSeed = 21;
    return c;
  }();

  // Sends one request on another thread (its backoff sleeps on the manual clock).
  std::future<Result<HttpResponse>> sendAsync(AwsClient& client) {
    return std::async(std::launch::async, [&client] {
      AwsRequest req;
      req.method = "GET";
      req.path = "/bucket/key";
      return client.send("s3", req);
    });
  }
  size_t sends() {
    std::lock_guard lock(http.mu);
    return http.seen.size();
  }
};

TEST_F(AwsClientRetryTest, RetriesThrottlingAndServerErrorsWithFullJitterOnTheClock) {
  http.script["key"] = {ScriptedHttp::status(503), ScriptedHttp::status(429),
                        ScriptedHttp::unreachable(), ScriptedHttp::status(200, "ok")};
  AwsClient client(http, creds, clock, cfg);
  auto expected = jitterDelays(cfg.retry, cfg.jitterSeed, 3);
  auto result = sendAsync(client);
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_TRUE(clock.waitForSleeps(i + 1, kStep)) << i;
    EXPECT_EQ(clock.sleeps()[i], expected[i]) << "retry " << i + 1;
    clock.advance(expected[i]);
  }
  ASSERT_EQ(result.wait_for(kStep), std::future_status::ready);
  auto r = result.get();
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(sends(), 4u);
}

TEST_F(AwsClientRetryTest, GivesUpAsUnavailableAfterMaxAttemptsTries) {
  http.script["key"] = {ScriptedHttp::status(500)};
  AwsClient client(http, creds, clock, cfg);
  auto expected = jitterDelays(cfg.retry, cfg.jitterSeed, 3);
  auto result = sendAsync(client);
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_TRUE(clock.waitForSleeps(i + 1, kStep)) << i;
    clock.advance(expected[i]);
  }
  ASSERT_EQ(result.wait_for(kStep), std::future_status::ready);
  auto r = result.get();
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(r.status().message(), "s3: HTTP 500");
  EXPECT_EQ(sends(), 4u);  // maxAttempts tries, maxAttempts - 1 sleeps
  EXPECT_EQ(clock.sleeps(), expected);
}

TEST_F(AwsClientRetryTest, AClientErrorComesBackAtOnceWithoutARetry) {
  http.script["key"] = {ScriptedHttp::status(404, R"({"__type":"ResourceNotFoundException"})")};
  AwsClient client(http, creds, clock, cfg);
  auto r = sendAsync(client).get();  // no sleep: the manual clock need not move
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(sends(), 1u);
  EXPECT_TRUE(clock.sleeps().empty());
}

TEST_F(AwsClientRetryTest, AStopEndsTheBackoffAtOnceAsUnavailable) {
  http.script["key"] = {ScriptedHttp::status(503)};
  cfg.retry = {60000, 600000, 10};  // minutes of backoff, on a clock that never moves
  std::stop_source stop;
  AwsClient client(http, creds, clock, cfg, stop.get_token());
  auto result = sendAsync(client);
  ASSERT_TRUE(clock.waitForSleepers(1, kStep));
  stop.request_stop();
  ASSERT_EQ(result.wait_for(kStep), std::future_status::ready);
  EXPECT_EQ(result.get().status().code(), Code::kUnavailable);
  EXPECT_EQ(sends(), 1u);
}

// The error codes of aws_client, read from the services' error bodies.
TEST(AwsErrorCodes, QueryCodeIsTheFirstCodeElement) {
  EXPECT_EQ(queryErrorCode("<ErrorResponse><Error><Code>NotFound</Code></Error></ErrorResponse>"),
            "NotFound");
  EXPECT_EQ(queryErrorCode("no code"), "");
  // A </Code> before the <Code> made the length wrap: the code ran to the end of the body.
  EXPECT_EQ(queryErrorCode("<Message>see </Code></Message><Code>Throttling</Code><More/>"),
            "Throttling");
  EXPECT_EQ(queryErrorCode("<Message>see </Code></Message><Code>Throttling"), "");
  EXPECT_EQ(awsErrorCode(R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist"})"),
            "QueueDoesNotExist");
  EXPECT_EQ(awsErrorCode("<Error/>"), "");
}

}  // namespace
}  // namespace memberflow::aws
