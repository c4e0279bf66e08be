// The Member API's handlers over the embedded store: methods, errors, auth, idempotency.
#include <gtest/gtest.h>

#include "api/api_fixture.h"
#include "common/crypto.h"

namespace memberflow::api {
namespace {

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
  auto v = call(
      "PUT", "/member/M1",
      R"({"name":{"first":"A","last":"B"},"birthDate":"1990-01-31","gender":"robot","status":"active"})");
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
  std::string none64 =
      crypto::base64UrlEncode(R"({"alg":"none"})") + "." +
      crypto::base64UrlEncode(
          R"({"iss":"memberflow-local","aud":"memberflow-api","scope":"member:read","exp":9999999999})") +
      ".";
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
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(attempt("192.0.2.9", "198.51.100." + std::to_string(i)), 401) << i;
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

// POST /members:batchWrite: each item exactly as the same PUT or DELETE, in request order; one
// item's failure fails only that item.
TEST_F(ApiTest, BatchWriteAppliesEachItemAsItsSingleRequestWould) {
  json::value member = json::parse(kBody);
  auto item = [&](const char* op, const char* id, const char* key, int64_t seq) {
    json::object o{{"op", op},
                   {"memberId", id},
                   {"idempotencyKey", key},
                   {"sourceSequence", seq},
                   {"messageId", key},
                   {"lineage", json::object{{"partition", 0}}}};
    if (std::string(op) == "put") o["member"] = member;
    return o;
  };
  json::array items{item("put", "B1", "k1", 10),       // created
                    item("put", "B2", "k2", 10),       // created
                    item("put", "B1", "k3", 9),        // stale behind k1 of this batch: 409
                    item("delete", "B2", "k4", 11),    // after k2 of this batch: deleted
                    item("delete", "NOPE", "k5", 1)};  // not there: 404
  items.push_back(json::object{{"op", "put"}, {"memberId", "B3"}});  // no key, no member: 400
  auto r = call("POST", "/members:batchWrite", json::serialize(json::object{{"items", items}}));
  ASSERT_EQ(r.status, 200) << r.body;
  json::object doc = body(r);
  const auto& results = doc.at("results").as_array();
  ASSERT_EQ(results.size(), 6u);
  std::vector<int64_t> statuses;
  for (const auto& x : results) statuses.push_back(x.at("status").as_int64());
  EXPECT_EQ(statuses, (std::vector<int64_t>{201, 201, 409, 204, 404, 400}));
  EXPECT_EQ(results[0].at("etag").as_string(), "\"1\"");
  EXPECT_EQ(results[0].at("member").at("memberId").as_string(), "B1");
  EXPECT_EQ(results[2].at("problem").at("type").as_string(),
            "urn:memberflow:problem:stale-source-sequence");
  EXPECT_EQ(results[5].at("problem").at("type").as_string(),
            "urn:memberflow:problem:invalid-batch-item");
  EXPECT_EQ(call("GET", "/member/B1").status, 200);
  EXPECT_EQ(call("GET", "/member/B2").status, 404);
  // The same keys again replay their first results; a single PUT with k1 replays it too.
  auto again = call("POST", "/members:batchWrite", json::serialize(json::object{{"items", items}}));
  ASSERT_EQ(again.status, 200);
  std::vector<int64_t> replayed;
  json::object againDoc = body(again);
  for (const auto& x : againDoc.at("results").as_array())
    replayed.push_back(x.at("status").as_int64());
  // What the same single requests answer when repeated: the delete of an absent member is not
  // kept under its key (a failed write), so its repeat is answered anew.
  std::map<std::string, std::string> s5{{"idempotency-key", "s5"}, {"x-source-sequence", "1"}};
  EXPECT_EQ(call("DELETE", "/member/S5", "", s5).status, 404);
  int64_t singleRepeat = call("DELETE", "/member/S5", "", s5).status;
  EXPECT_EQ(replayed, (std::vector<int64_t>{201, 201, 409, 204, singleRepeat, 400}));
  EXPECT_EQ(body(call("GET", "/member/B1")).at("version").as_int64(), 1);
  // One history entry per applied item, with the item's lineage.
  auto h = call("GET", "/member/B1/history");
  ASSERT_EQ(h.status, 200);
  auto changes = body(h).at("changes").as_array();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].at("lineage").at("partition").as_int64(), 0);
}

// `Prefer: return=minimal` (RFC 7240, as sync sends it): the same writes and statuses, each
// result with its ETag or problem but no member document, and the preference acknowledged.
// Without it, or with another preference, the results carry the members.
TEST_F(ApiTest, BatchWriteWithPreferReturnMinimalLeavesTheMembersOut) {
  auto items = [&](const char* id, const char* key, int64_t seq) {
    return json::serialize(json::object{
        {"items", json::array{json::object{{"op", "put"},
                                           {"memberId", id},
                                           {"idempotencyKey", key},
                                           {"sourceSequence", seq},
                                           {"member", json::parse(kBody)}},
                              json::object{{"op", "put"},
                                           {"memberId", id},
                                           {"idempotencyKey", std::string(key) + "-old"},
                                           {"sourceSequence", seq - 1},
                                           {"member", json::parse(kBody)}}}}});
  };
  auto r = call("POST", "/members:batchWrite", items("P1", "p1", 10),
                {{"prefer", "respond-async, RETURN=minimal; x=1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(header(r, "Preference-Applied"), "return=minimal");
  json::object doc = body(r);
  const auto& results = doc.at("results").as_array();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].at("status").as_int64(), 201);
  EXPECT_EQ(results[0].at("etag").as_string(), "\"1\"");
  EXPECT_FALSE(results[0].as_object().contains("member"));
  EXPECT_EQ(results[1].at("status").as_int64(), 409);
  EXPECT_EQ(results[1].at("problem").at("type").as_string(),
            "urn:memberflow:problem:stale-source-sequence");
  EXPECT_EQ(body(call("GET", "/member/P1")).at("version").as_int64(), 1);  // applied all the same
  // A replay under minimal is minimal too; without the preference the member comes back.
  // (Spaces around "=" and a quoted value are the same preference.)
  auto replay = call("POST", "/members:batchWrite", items("P1", "p1", 10),
                     {{"prefer", "return = \"minimal\""}});
  EXPECT_FALSE(body(replay).at("results").as_array()[0].as_object().contains("member"));
  // A repeat answers as the first response did, whatever it prefers (RFC 7240 preferences are
  // hints): the key kept the version for the ETag, not the member.
  auto again = call("POST", "/members:batchWrite", items("P1", "p1", 10));
  ASSERT_EQ(again.status, 200) << again.body;
  json::object againDoc = body(again);
  const auto& first = againDoc.at("results").as_array()[0].as_object();
  EXPECT_EQ(first.at("status").as_int64(), 201);
  EXPECT_EQ(first.at("etag").as_string(), "\"1\"");
  EXPECT_FALSE(first.contains("member"));
  // Only the first `return` counts, and a comma inside a quoted string separates nothing.
  for (auto [id, prefer] : {std::pair{"P2", ""}, std::pair{"P3", "return=representation"},
                            std::pair{"P4", "return=representation, return=minimal"},
                            std::pair{"P5", "handling=lenient; note=\"a,return=minimal,b\""}}) {
    auto full = call("POST", "/members:batchWrite", items(id, id, 10), {{"prefer", prefer}});
    ASSERT_EQ(full.status, 200) << full.body;
    EXPECT_EQ(header(full, "Preference-Applied"), "");
    EXPECT_EQ(body(full).at("results").as_array()[0].at("member").at("memberId").as_string(), id);
  }
}

TEST_F(ApiTest, BatchWriteRefusesWhatIsNoBatch) {
  EXPECT_EQ(call("POST", "/members:batchWrite", "{nope").status, 400);
  EXPECT_EQ(call("POST", "/members:batchWrite", R"({"items": {}})").status, 400);
  EXPECT_EQ(call("POST", "/members:batchWrite", R"([])").status, 400);
  EXPECT_EQ(call("GET", "/members:batchWrite").status, 405);
  json::array many(501, json::object{{"op", "delete"}, {"memberId", "X"}, {"idempotencyKey", "k"}});
  EXPECT_EQ(
      call("POST", "/members:batchWrite", json::serialize(json::object{{"items", std::move(many)}}))
          .status,
      400);
  EXPECT_EQ(call("POST", "/members:batchWrite", std::string(2 << 20, ' ')).status, 413);
  auto empty = call("POST", "/members:batchWrite", R"({"items": []})");
  ASSERT_EQ(empty.status, 200);
  EXPECT_TRUE(body(empty).at("results").as_array().empty());
}

// The batch write is behind the same bearer check and write scope as PUT and DELETE: without a
// token 401, with a read-only one 403 (insufficient_scope), and nothing of the batch applied.
TEST_F(ApiTest, BatchWriteNeedsATokenWithTheWriteScope) {
  std::string items = json::serialize(
      json::object{{"items", json::array{json::object{{"op", "put"},
                                                      {"memberId", "A1"},
                                                      {"idempotencyKey", "a1"},
                                                      {"member", json::parse(kBody)}}}}});
  ApiRequest anonymous{"POST", "/members:batchWrite", {}, items, ""};
  auto none = api.handle(anonymous);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(header(none, "WWW-Authenticate"), "Bearer realm=\"memberflow\"");
  std::string ro = key->mint("reader", {"member:read"}, 600);
  auto forbidden = call("POST", "/members:batchWrite", items, {}, &ro);
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_NE(header(forbidden, "WWW-Authenticate").find("insufficient_scope"), std::string::npos);
  EXPECT_EQ(call("GET", "/member/A1").status, 404);
  // The same batch with the write scope applies.
  auto ok = call("POST", "/members:batchWrite", items);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(body(ok).at("results").as_array()[0].at("status").as_int64(), 201);
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

}  // namespace
}  // namespace memberflow::api
