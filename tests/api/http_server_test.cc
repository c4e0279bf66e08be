// The real Beast server on port 0, driven by the real libcurl client and by raw sockets.
#include "api/http_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio.hpp>

#include "adapters/http/curl_http_client.h"
#include "api/api_fixture.h"

namespace memberflow::api {
namespace {

TEST_F(ApiTest, RealServerOnAnyFreePortWithKeepAliveAndLimits) {
  ServerOptions so;
  so.port = 0;
  so.maxBodyBytes = 4096;
  HttpServer server([this](const ApiRequest& r) { return api.handle(r); }, so);
  ASSERT_TRUE(server.start().isOk());
  ASSERT_NE(server.port(), 0);
  std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  http::CurlHttpClient client;
  HttpRequest put{"PUT",
                  base + "/member/S1",
                  {{"Authorization", "Bearer " + rw}, {"Content-Type", "application/json"}},
                  kBody,
                  5000};
  auto r = client.send(put);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.response.status, 201);
  EXPECT_EQ(r.response.header("etag"), "\"1\"");
  for (int i = 0; i < 20; ++i) {  // reused connection
    auto g =
        client.send({"GET", base + "/member/S1", {{"Authorization", "Bearer " + rw}}, "", 5000});
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(g.response.status, 200);
  }
  HttpRequest big = put;
  big.body = std::string(8192, 'x');
  auto tooBig = client.send(big);
  ASSERT_TRUE(tooBig.ok()) << tooBig.error;
  EXPECT_EQ(tooBig.response.status, 413);
  auto metrics = client.send({"GET", base + "/metrics", {}, "", 5000});
  EXPECT_NE(metrics.response.body.find("memberflow_http_requests_total"), std::string::npos);
  server.stop();
  auto after = client.send({"GET", base + "/healthz", {}, "", 2000});
  EXPECT_FALSE(after.ok());
  EXPECT_EQ(after.transport, HttpResult::Transport::kNotSent);
}

// Sends `raw` on one connection and reads until the server closes it (or 10 s pass).
std::string exchange(uint16_t port, const std::string& raw) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket sock(ioc);
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  timeval tv{10, 0};
  setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  boost::asio::write(sock, boost::asio::buffer(raw));
  std::string out;
  char buf[4096];
  boost::system::error_code ec;
  while (!ec) {
    size_t n = sock.read_some(boost::asio::buffer(buf), ec);
    out.append(buf, n);
  }
  return out;
}

// The response head is written by the server itself (not Beast's serializer): its framing
// checked byte by byte on pipelined requests, HTTP/1.0 and a closing request.
TEST_F(ApiTest, RealServerFramesResponsesOnPipelinedAndOldRequests) {
  ASSERT_EQ(call("PUT", "/member/S1", kBody, {{"x-source-sequence", "1"}}).status, 201);
  auto body = call("GET", "/member/S1").body;
  ServerOptions so;
  so.port = 0;
  HttpServer server([this](const ApiRequest& r) { return api.handle(r); }, so);
  ASSERT_TRUE(server.start().isOk());
  std::string auth = "Authorization: Bearer " + rw + "\r\n";
  std::string out =
      exchange(server.port(), "GET /member/S1 HTTP/1.1\r\nHost: t\r\n" + auth +
                                  "If-None-Match: \"1\"\r\n\r\n"
                                  "GET /member/S1 HTTP/1.1\r\nHost: t\r\n" +
                                  auth +
                                  "\r\n"
                                  "GET /member/S1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" +
                                  auth + "\r\n");
  std::string ok =
      "HTTP/1.1 200 OK\r\nServer: memberflow\r\nContent-Type: application/json\r\nETag: \"1\"\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n";
  EXPECT_EQ(
      out, "HTTP/1.1 304 Not Modified\r\nServer: memberflow\r\nETag: \"1\"\r\n\r\n" +  // no length,
                                                                                       // no body
               ok + "\r\n" + body + ok + "Connection: close\r\n\r\n" + body);
  // HTTP/1.0: closed after the response unless asked to keep it open.
  out = exchange(server.port(), "GET /member/S1 HTTP/1.0\r\n" + auth + "\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << out.substr(0, 40);
  EXPECT_EQ(out.size() - out.find("\r\n\r\n") - 4, body.size());
  EXPECT_EQ(out.find("Connection:"), std::string::npos);
  out = exchange(server.port(), "GET /member/S1 HTTP/1.0\r\nConnection: keep-alive\r\n" + auth +
                                    "\r\n"
                                    "GET /member/S1 HTTP/1.0\r\n" +
                                    auth + "\r\n");
  EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
  EXPECT_EQ(out.find("HTTP/1.0 200 OK", 1),
            out.find("\r\n\r\n") + 4 + body.size());  // both answered
  // A method outside RFC 9110 is counted as "other": clients cannot create metric series.
  out =
      exchange(server.port(), "BREW /member/S1 HTTP/1.1\r\nConnection: close\r\n" + auth + "\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 405 ", 0), 0u) << out.substr(0, 40);
  auto metrics = call("GET", "/metrics").body;
  EXPECT_NE(metrics.find(R"(memberflow_http_requests_total{method="other",status="405"})"),
            std::string::npos);
  EXPECT_EQ(metrics.find("BREW"), std::string::npos);
  server.stop();
}

TEST(HttpServerTest, AHeaderWithALineBreakIsDropped) {
  ServerOptions so;
  so.port = 0;
  HttpServer server(
      [](const ApiRequest&) {
        return ApiResponse{200, {{"X-Ok", "1"}, {"X-Split", "a\r\nSet-Cookie: stolen=1"}}, "hi"};
      },
      so);
  ASSERT_TRUE(server.start().isOk());
  std::string out = exchange(server.port(), "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nServer: memberflow\r\nX-Ok: 1\r\nContent-Length: 2\r\n"
            "Connection: close\r\n\r\nhi");
  server.stop();
}

}  // namespace
}  // namespace memberflow::api
