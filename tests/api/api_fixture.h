// File: api_fixture.h
// The Member API over the embedded store with a local signing key and a ManualClock, shared
// by the API's tests (handlers, member_cache, auth, http_server).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "adapters/embedded/sqlite_member_store.h"
#include "api/auth.h"
#include "api/handlers.h"
#include "common/json.h"
#include "support/test_support.h"

namespace memberflow::api {

using memberflow::testing::ManualClock;
using memberflow::testing::TempDir;

inline const char* kBody = R"({"name":{"first":"Ada","last":"Lovelace"},"birthDate":"1990-01-31",
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

  ApiResponse call(const std::string& method, const std::string& target,
                   const std::string& body = "", std::map<std::string, std::string> headers = {},
                   const std::string* token = nullptr) {
    ApiRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.headers = std::move(headers);
    if (!r.headers.count("authorization"))
      r.headers["authorization"] = "Bearer " + (token ? *token : rw);
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

}  // namespace memberflow::api
