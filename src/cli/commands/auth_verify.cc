// `memberflow auth verify`: one compact JWS from stdin, checked with the API's verifier.
#include <cctype>
#include <iostream>
#include <iterator>

#include "api/jwt.h"
#include "cli/commands.h"
#include "common/json.h"

namespace memberflow::cli {

int authVerifyCommand(const VerifyOptions& o) {
  api::JwtPolicy policy;
  if (!o.algorithms.empty()) policy.algorithms = o.algorithms;
  policy.issuer = o.issuer;
  policy.audience = o.audience;
  policy.skewSeconds = o.skewSeconds;
  if (Status s = api::checkPolicy(policy); !s.isOk()) {
    std::cout << "invalid: " << s.message() << "\n";
    return 1;
  }
  auto keys = api::StaticKeySource::fromFile(o.jwksFile);
  if (!keys.isOk()) {
    std::cout << "invalid: " << keys.status().message() << "\n";
    return 1;
  }
  std::string token((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  size_t start = 0;
  while (start < token.size() && std::isspace(static_cast<unsigned char>(token[start]))) ++start;
  token.erase(0, start);
  auto set = (*keys)->keys(false);
  auto payload = api::verifyJws(token, **set, policy);
  if (!payload.isOk()) {
    std::cout << "invalid: " << payload.status().message() << "\n";
    return 1;
  }
  if (o.noClaims) {
    std::cout << "valid: signature verified (claims not checked)\n";
    return 0;
  }
  auto claims = api::checkJwtClaims(*payload, policy, SystemClock().nowMs() / 1000);
  if (!claims.isOk()) {
    std::cout << "invalid: " << claims.status().message() << "\n";
    return 1;
  }
  std::string scopes;
  for (const auto& s : claims->scopes) scopes += (scopes.empty() ? "" : " ") + s;
  std::cout << "valid: sub=" << json::serialize(json::value(claims->subject)) << " scopes=\""
            << scopes << "\"\n";
  return 0;
}

}  // namespace memberflow::cli
