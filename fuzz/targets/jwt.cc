// Fuzz target: a bearer token through the JWS verifier and the claims check, with an HMAC and
// an EC key (RFC 7515 A.1 and A.3) and every algorithm on. Any crash, sanitizer report,
// uncaught exception or broken invariant (abort) is a finding.
#include "api/jwt.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

using namespace memberflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  static const api::JwkSet keys = *api::JwkSet::parse(
      R"({"keys":[{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"},)"
      R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})");
  static const api::JwtPolicy policy = [] {
    api::JwtPolicy p;
    p.algorithms.insert("HS256");
    return p;
  }();
  auto payload = api::verifyJws(in, keys, policy);
  if (payload.isOk()) {
    if (std::count(in.begin(), in.end(), '.') != 2) std::abort();
    (void)api::checkJwtClaims(*payload, policy, 1300000000);
  }
  return 0;
}
