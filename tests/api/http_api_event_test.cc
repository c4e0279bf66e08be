// The Member API behind API Gateway's HTTP API (payload format 2.0): the event as the request
// the Beast server would have built, the response as the integration's answer. Event shapes as
// the API Gateway developer guide documents them ("Working with AWS Lambda proxy integrations
// for HTTP APIs").
#include "api/http_api_event.h"

#include <gtest/gtest.h>

namespace memberflow::api {
namespace {

json::value J(const char* text) { return json::parse(text); }

TEST(HttpApiEvent, BuildsTheRequest) {
  auto r = requestFromHttpApiEvent(J(R"({
    "version": "2.0", "routeKey": "$default", "rawPath": "/members/M1",
    "rawQueryString": "a=1&b=2", "cookies": ["c1=v1", "c2=v2"],
    "headers": {"Authorization": "Bearer t", "content-type": "application/json"},
    "requestContext": {"http": {"method": "PUT", "path": "/members/M1", "sourceIp": "10.0.0.9"}},
    "body": "eyJhIjoxfQ==", "isBase64Encoded": true})"));
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->method, "PUT");
  EXPECT_EQ(r->target, "/members/M1?a=1&b=2");
  EXPECT_EQ(r->header("authorization"), "Bearer t");
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(r->header("cookie"), "c1=v1; c2=v2");
  EXPECT_EQ(r->remoteAddress, "10.0.0.9");
  EXPECT_EQ(r->body, R"({"a":1})");
  auto plain = requestFromHttpApiEvent(
      J(R"({"version": "2.0", "rawPath": "/healthz", "requestContext": {"http": {"method": "GET"}},
            "body": "x", "isBase64Encoded": false})"));
  ASSERT_TRUE(plain.isOk());
  EXPECT_EQ(plain->target, "/healthz");
  EXPECT_EQ(plain->body, "x");
}

TEST(HttpApiEvent, RefusesWhatIsNoPayload2Event) {
  for (const char* bad : {
           R"([])",
           R"({"version": "1.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}}})",
           R"({"version": "2.0", "rawPath": "/"})",
           R"({"version": "2.0", "rawPath": "x", "requestContext": {"http": {"method": "GET"}}})",
           R"({"version": "2.0", "rawPath": "/", "requestContext": {"http": {}}})",
           R"({"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}},
               "body": "%%", "isBase64Encoded": true})",
       }) {
    EXPECT_EQ(requestFromHttpApiEvent(J(bad)).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(HttpApiEvent, WritesTheResponse) {
  ApiResponse r{
      201,
      {{"Content-Type", "application/json"}, {"Vary", "a"}, {"Vary", "b"}, {"Set-Cookie", "s=1"}},
      R"({"id":"M1"})"};
  auto doc = json::parse(httpApiResponse(r)).as_object();
  EXPECT_EQ(doc["statusCode"].as_int64(), 201);
  EXPECT_EQ(doc["body"].as_string(), R"({"id":"M1"})");
  EXPECT_FALSE(doc["isBase64Encoded"].as_bool());
  EXPECT_EQ(doc["headers"].as_object()["Content-Type"].as_string(), "application/json");
  EXPECT_EQ(doc["headers"].as_object()["Vary"].as_string(), "a, b");
  EXPECT_EQ(doc["cookies"].as_array().size(), 1u);
  EXPECT_FALSE(doc["headers"].as_object().contains("Set-Cookie"));
}

}  // namespace
}  // namespace memberflow::api
