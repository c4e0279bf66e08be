// The Member API: handlers over the embedded store, then the real Beast server on port 0
// driven by the real libcurl client.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio.hpp>

#include "adapters/embedded/sqlite_member_store.h"
#include "adapters/http/curl_http_client.h"
#include "api/auth.h"
#include "api/handlers.h"
#include "api/http_server.h"
#include "common/crypto.h"
#include "common/json.h"
#include "support/test_support.h"

namespace memberflow::api {
namespace {

using memberflow::testing::ManualClock;
using memberflow::testing::TempDir;

const char* kBody = R"({"name":{"first":"Ada","last":"Lovelace"},"birthDate":"1990-01-31",
  "gender":"female","contact":{"email":"ada@example.org","phone":"515 555 0100"},
  "status":"active"})";

enum class ApiMemberStore { kCached, kOther };

class ApiTest : public ::testing::Test {
 protected:
  TempDir dir;
  ManualClock clock{1795008556853};
  std::unique_ptr<embedded::SqliteMemberStore> store =
      *embedded::SqliteMemberStore::open(dir.file("m.db"), {});
  std::shared_ptr<LocalSigningKey> key = *LocalSigningKey::loadOrCreate(dir.file("k/key"), clock);
  MemberApi api{*store, *key, clock, {}};
  std::string rw = key->mint("test", {"member:read", "member:write"}, 600);

  ApiResponse call(const std::string& method, const std::string& target, const std::string& body = "",
                   std::map<std::string, std::string> headers = {}, const std::string* token = nullptr) {
    ApiRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.headers = std::move(headers);
    if (!r.headers.count("authorization")) r.headers["authorization"] = "Bearer " + (token ? *token : rw);
    return api.handle(r);
  }
  static std::string header(const ApiResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return {};
  }
  static json::object body(const ApiResponse& r) { return json::parse(r.body).as_object(); }
};

TEST_F(ApiTest, PutCreatesThenReplacesAndGetServesWithETag) {
  auto c = call("PUT", "/member/M1", kBody);
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(header(c, "Location"), "/member/M1");
  EXPECT_EQ(header(c, "ETag"), "\"1\"");
  EXPECT_EQ(body(c).at("contact").at("phone").as_string(), "+15155550100");
  auto g = call("GET", "/member/M1");
  ASSERT_EQ(g.status, 200);
  EXPECT_EQ(header(g, "ETag"), "\"1\"");
  EXPECT_EQ(body(g).at("version").as_int64(), 1);
  EXPECT_EQ(call("GET", "/member/M1", "", {{"if-none-match", "\"1\""}}).status, 304);
  std::string changed = kBody;
  changed.replace(changed.find("Lovelace"), 8, "Byron");
  auto u = call("PUT", "/member/M1", changed);
  EXPECT_EQ(u.status, 200);
  EXPECT_EQ(header(u, "ETag"), "\"2\"");
  EXPECT_EQ(header(u, "Content-Type"), "application/json");
}

TEST_F(ApiTest, ErrorsAreProblemDocumentsWithStableTypes) {
  auto v = call("PUT", "/member/M1", R"({"name":{"first":"A","last":"B"},"birthDate":"1990-01-31","gender":"robot","status":"active"})");
  EXPECT_EQ(v.status, 422);
  EXPECT_EQ(header(v, "Content-Type"), "application/problem+json");
  EXPECT_EQ(body(v).at("type").as_string(), "urn:memberflow:problem:validation-failed");
  EXPECT_EQ(call("PUT", "/member/M1", "{nope").status, 400);
  EXPECT_EQ(call("PUT", "/member/M1", std::string(kBody).insert(1, "\"ssn\":\"1\",")).status, 422);
  EXPECT_EQ(call("GET", "/member/bad%20id").status, 400);
  EXPECT_EQ(call("GET", "/member/NOPE").status, 404);
  EXPECT_EQ(call("DELETE", "/member/NOPE").status, 404);
  EXPECT_EQ(call("GET", "/nothing").status, 404);
  EXPECT_EQ(call("PUT", "/member/M1", kBody, {{"x-source-sequence", "abc"}}).status, 400);
  EXPECT_EQ(call("PUT", "/member/M1", std::string(2 << 20, ' ')).status, 413);
  EXPECT_EQ(call("GET", "/members?limit=0").status, 400);
  EXPECT_EQ(call("GET", "/members?updatedSince=yesterday").status, 400);
}

TEST_F(ApiTest, AuthenticationAndScopes) {
  ApiRequest r{"GET", "/member/M1", {}, "", ""};
  auto none = api.handle(r);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(header(none, "WWW-Authenticate"), "Bearer realm=\"memberflow\"");
  std::string tampered = rw;
  tampered[tampered.size() - 2] = tampered[tampered.size() - 2] == 'A' ? 'B' : 'A';
  auto bad = call("GET", "/member/M1", "", {}, &tampered);
  EXPECT_EQ(bad.status, 401);
  EXPECT_NE(header(bad, "WWW-Authenticate").find("invalid_token"), std::string::npos);
  std::string ro = key->mint("reader", {"member:read"}, 600);
  EXPECT_EQ(call("GET", "/member/M1", "", {}, &ro).status, 404);
  auto forbidden = call("PUT", "/member/M1", kBody, {}, &ro);
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_NE(header(forbidden, "WWW-Authenticate").find("insufficient_scope"), std::string::npos);
  // alg=none and expired tokens are refused.
  std::string none64 = crypto::base64UrlEncode(R"({"alg":"none"})") + "." +
                       crypto::base64UrlEncode(R"({"iss":"memberflow-local","aud":"memberflow-api","scope":"member:read","exp":9999999999})") + ".";
  EXPECT_EQ(call("GET", "/member/M1", "", {}, &none64).status, 401);
  std::string old = key->mint("old", {"member:read"}, 1);
  clock.advance(120000);
  EXPECT_EQ(call("GET", "/member/M1", "", {}, &old).status, 401);
  // Operations endpoints carry no member data and stay open.
  ApiRequest health{"GET", "/healthz", {}, "", ""};
  EXPECT_EQ(api.handle(health).status, 200);
  ApiRequest ready{"GET", "/readyz", {}, "", ""};
  EXPECT_EQ(api.handle(ready).status, 200);
  ApiRequest doc{"GET", "/openapi.json", {}, "", ""};
  auto d = api.handle(doc);
  EXPECT_EQ(json::parse(d.body).at("openapi").as_string(), "3.1.0");
}

TEST_F(ApiTest, FailedAuthenticationsAreLimitedPerClientAddressAlsoBehindATrustedProxy) {
  ApiOptions o;
  o.failedAuthPerAddress = 1;  // burst 10
  o.trustedProxies = {"10.0.0.1"};
  MemberApi limited{*store, *key, clock, o};
  auto attempt = [&](const std::string& peer, const std::string& xff) {
    ApiRequest r{"GET", "/member/M1", {{"authorization", "Bearer not-a-token"}}, "", peer};
    if (!xff.empty()) r.headers["x-forwarded-for"] = xff;
    return limited.handle(r).status;
  };
  for (int i = 0; i < 10; ++i) EXPECT_EQ(attempt("10.0.0.1", "203.0.113.7, 10.0.0.1"), 401) << i;
  EXPECT_EQ(attempt("10.0.0.1", "203.0.113.7, 10.0.0.1"), 429);
  EXPECT_EQ(attempt("10.0.0.1", "198.51.100.2"), 401);  // another client behind the same proxy
  // An untrusted peer's X-Forwarded-For is ignored: its own address is limited.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(attempt("192.0.2.9", "198.51.100." + std::to_string(i)), 401) << i;
  EXPECT_EQ(attempt("192.0.2.9", "198.51.100.99"), 429);
  // A client cannot spoof its way past the proxy's own entry (the rightmost untrusted one counts).
  EXPECT_EQ(attempt("10.0.0.1", "1.2.3.4, 203.0.113.7"), 429);
}

TEST_F(ApiTest, IdempotencyKeyReplaysTheFirstResponse) {
  auto a = call("PUT", "/member/M2", kBody, {{"idempotency-key", "msg-1"}});
  ASSERT_EQ(a.status, 201);
  auto b = call("PUT", "/member/M2", kBody, {{"idempotency-key", "msg-1"}});
  EXPECT_EQ(b.status, 201);
  EXPECT_EQ(b.body, a.body);
  EXPECT_EQ(header(b, "Idempotent-Replayed"), "true");
  std::string other = kBody;
  other.replace(other.find("Lovelace"), 8, "Other");
  EXPECT_EQ(call("PUT", "/member/M2", other, {{"idempotency-key", "msg-1"}}).status, 422);
  EXPECT_EQ(body(call("GET", "/member/M2")).at("version").as_int64(), 1);
}

TEST_F(ApiTest, SourceSequenceGuardAndTombstones) {
  ASSERT_EQ(call("PUT", "/member/M3", kBody, {{"x-source-sequence", "10"}}).status, 201);
  auto stale = call("PUT", "/member/M3", kBody, {{"x-source-sequence", "9"}});
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(body(stale).at("type").as_string(), "urn:memberflow:problem:stale-source-sequence");
  EXPECT_EQ(call("DELETE", "/member/M3", "", {{"x-source-sequence", "20"}}).status, 204);
  EXPECT_EQ(call("GET", "/member/M3").status, 404);
  EXPECT_EQ(call("PUT", "/member/M3", kBody, {{"x-source-sequence", "15"}}).status, 409);
  EXPECT_EQ(call("PUT", "/member/M3", kBody, {{"x-source-sequence", "25"}}).status, 201);
}

TEST_F(ApiTest, IfMatchPostPatchHistoryAndList) {
  ASSERT_EQ(call("PUT", "/member/M4", kBody).status, 201);
  EXPECT_EQ(call("PUT", "/member/M4", kBody, {{"if-match", "\"7\""}}).status, 412);
  std::string post = std::string(kBody).insert(1, "\"memberId\":\"M5\",");
  EXPECT_EQ(call("POST", "/member", post).status, 201);
  EXPECT_EQ(call("POST", "/member", post).status, 409);
  auto p = call("PATCH", "/member/M4", R"({"status":"inactive","contact":{"email":null}})",
                {{"if-match", "\"1\""}});
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(body(p).at("status").as_string(), "inactive");
  EXPECT_TRUE(body(p).at("contact").at("email").is_null());
  EXPECT_EQ(call("PATCH", "/member/M4", R"({"gender":"robot"})").status, 422);
  EXPECT_EQ(call("PATCH", "/member/M4", R"({"extra":1})").status, 422);
  EXPECT_EQ(call("PATCH", "/member/NOPE", R"({"status":"inactive"})").status, 404);
  auto h = call("GET", "/member/M4/history");
  ASSERT_EQ(h.status, 200);
  auto changes = body(h).at("changes").as_array();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1].at("lineage").at("via").as_string(), "api");
  auto l = call("GET", "/members?limit=1");
  ASSERT_EQ(l.status, 200);
  EXPECT_EQ(body(l).at("members").as_array().size(), 1u);
  std::string cursor(body(l).at("nextCursor").as_string());
  auto l2 = call("GET", "/members?limit=10&cursor=" + cursor);
  EXPECT_EQ(body(l2).at("members").as_array().size(), 1u);
  EXPECT_TRUE(body(l2).at("nextCursor").is_null());
}

// Reads come from the cache once filled; this API's own writes invalidate; a change notice
// (another process wrote) invalidates; while the feed is down the store is read every time.
TEST_F(ApiTest, ReadCacheIsKeptCorrectByWritesAndChangeNotices) {
  MemberCache cache(1000);
  MemberApi cached{*store, *key, clock, {}, &cache};
  auto get = [&](std::map<std::string, std::string> h = {}) {
    ApiRequest r{"GET", "/member/M1", {}, "", ""};
    r.headers = std::move(h);
    r.headers["authorization"] = "Bearer " + rw;
    return cached.handle(r);
  };
  auto put = [&](const std::string& last, ApiMemberStore via) {
    ApiRequest r{"PUT", "/member/M1", {{"authorization", "Bearer " + rw}}, "", ""};
    std::string b = kBody;
    r.body = b.replace(b.find("Lovelace"), 8, last);
    return via == ApiMemberStore::kCached ? cached.handle(r) : api.handle(r);
  };
  ASSERT_EQ(put("One", ApiMemberStore::kCached).status, 201);
  EXPECT_EQ(get().status, 200);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(get({{"if-none-match", "\"1\""}}).status, 304);
  ASSERT_EQ(put("Two", ApiMemberStore::kCached).status, 200);  // this API's write
  EXPECT_EQ(body(get()).at("name").at("last").as_string(), "Two");
  ASSERT_EQ(put("Three", ApiMemberStore::kOther).status, 200);  // another writer, no notice yet
  EXPECT_EQ(body(get()).at("name").at("last").as_string(), "Two");  // what the notice is for
  cache.invalidate("M1");                                            // the notice
  EXPECT_EQ(body(get()).at("name").at("last").as_string(), "Three");
  EXPECT_EQ(header(get(), "ETag"), "\"3\"");
  cache.setFeed(false);  // notices could be missed: every read goes to the store
  ASSERT_EQ(put("Four", ApiMemberStore::kOther).status, 200);
  EXPECT_EQ(body(get()).at("name").at("last").as_string(), "Four");
  EXPECT_EQ(cache.size(), 0u);
  // A fill that raced with a notice is dropped.
  cache.setFeed(true);
  uint64_t before = cache.epoch();
  cache.invalidate("M9");
  cache.fill("M1", std::make_shared<MemberCache::Entry>(), before);
  EXPECT_EQ(cache.size(), 0u);
}

// A verified token is remembered until min(exp, 60 s); failures are never remembered.
TEST_F(ApiTest, VerifiedTokensAreRememberedBrieflyAndNeverPastExpiry) {
  struct Counting final : Authenticator {
    const Authenticator& inner;
    mutable int calls = 0;
    explicit Counting(const Authenticator& i) : inner(i) {}
    Result<Claims> verify(const std::string& t) const override {
      ++calls;
      return inner.verify(t);
    }
  } counting(*key);
  VerifiedTokenCache cache(counting, clock);
  std::string shortLived = key->mint("test", {"member:read"}, 30);
  ASSERT_TRUE(cache.verify(shortLived).isOk());
  ASSERT_TRUE(cache.verify(shortLived).isOk());
  EXPECT_EQ(counting.calls, 1);  // the second one from the cache
  EXPECT_FALSE(cache.verify(shortLived + "x").isOk());
  EXPECT_FALSE(cache.verify(shortLived + "x").isOk());
  EXPECT_EQ(counting.calls, 3);  // failures are verified every time
  clock.advance(31000);          // past exp: the cache does not vouch for it any more
  (void)cache.verify(shortLived);
  EXPECT_EQ(counting.calls, 4);
  std::string longLived = key->mint("test", {"member:read"}, 3600);
  ASSERT_TRUE(cache.verify(longLived).isOk());
  clock.advance(61000);  // the cache keeps a verification 60 s at most
  ASSERT_TRUE(cache.verify(longLived).isOk());
  EXPECT_EQ(counting.calls, 6);
}

TEST_F(ApiTest, RealServerOnAnyFreePortWithKeepAliveAndLimits) {
  ServerOptions so;
  so.port = 0;
  so.maxBodyBytes = 4096;
  HttpServer server([this](const ApiRequest& r) { return api.handle(r); }, so);
  ASSERT_TRUE(server.start().isOk());
  ASSERT_NE(server.port(), 0);
  std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  http::CurlHttpClient client;
  HttpRequest put{"PUT", base + "/member/S1", {{"Authorization", "Bearer " + rw}, {"Content-Type", "application/json"}}, kBody, 5000};
  auto r = client.send(put);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.response.status, 201);
  EXPECT_EQ(r.response.header("etag"), "\"1\"");
  for (int i = 0; i < 20; ++i) {  // reused connection
    auto g = client.send({"GET", base + "/member/S1", {{"Authorization", "Bearer " + rw}}, "", 5000});
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
  std::string out = exchange(server.port(),
                             "GET /member/S1 HTTP/1.1\r\nHost: t\r\n" + auth + "If-None-Match: \"1\"\r\n\r\n"
                             "GET /member/S1 HTTP/1.1\r\nHost: t\r\n" + auth + "\r\n"
                             "GET /member/S1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + auth + "\r\n");
  std::string ok = "HTTP/1.1 200 OK\r\nServer: memberflow\r\nContent-Type: application/json\r\nETag: \"1\"\r\n"
                   "Content-Length: " + std::to_string(body.size()) + "\r\n";
  EXPECT_EQ(out, "HTTP/1.1 304 Not Modified\r\nServer: memberflow\r\nETag: \"1\"\r\n\r\n" +  // no length, no body
                     ok + "\r\n" + body + ok + "Connection: close\r\n\r\n" + body);
  // HTTP/1.0: closed after the response unless asked to keep it open.
  out = exchange(server.port(), "GET /member/S1 HTTP/1.0\r\n" + auth + "\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << out.substr(0, 40);
  EXPECT_EQ(out.size() - out.find("\r\n\r\n") - 4, body.size());
  EXPECT_EQ(out.find("Connection:"), std::string::npos);
  out = exchange(server.port(), "GET /member/S1 HTTP/1.0\r\nConnection: keep-alive\r\n" + auth + "\r\n"
                                "GET /member/S1 HTTP/1.0\r\n" + auth + "\r\n");
  EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
  EXPECT_EQ(out.find("HTTP/1.0 200 OK", 1), out.find("\r\n\r\n") + 4 + body.size());  // both answered
  // A method outside RFC 9110 is counted as "other": clients cannot create metric series.
  out = exchange(server.port(), "BREW /member/S1 HTTP/1.1\r\nConnection: close\r\n" + auth + "\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 405 ", 0), 0u) << out.substr(0, 40);
  auto metrics = call("GET", "/metrics").body;
  EXPECT_NE(metrics.find(R"(memberflow_http_requests_total{method="other",status="405"})"), std::string::npos);
  EXPECT_EQ(metrics.find("BREW"), std::string::npos);
  server.stop();
}

TEST(HttpServerTest, AHeaderWithALineBreakIsDropped) {
  ServerOptions so;
  so.port = 0;
  HttpServer server([](const ApiRequest&) {
    return ApiResponse{200, {{"X-Ok", "1"}, {"X-Split", "a\r\nSet-Cookie: stolen=1"}}, "hi"};
  }, so);
  ASSERT_TRUE(server.start().isOk());
  std::string out = exchange(server.port(), "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nServer: memberflow\r\nX-Ok: 1\r\nContent-Length: 2\r\n"
                 "Connection: close\r\n\r\nhi");
  server.stop();
}

}  // namespace
}  // namespace memberflow::api
