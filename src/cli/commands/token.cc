// `memberflow token`: a short-lived bearer token signed with the embedded issuer's key.
#include <iostream>

#include "api/auth.h"
#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/wiring.h"

namespace memberflow::cli {

int tokenCommand(const Config& cfg, const std::vector<std::string>& scopes, int64_t ttlSeconds) {
  Wiring w(cfg);
  auto key = w.signingKey();
  if (!key.isOk()) return fail(key.status());
  std::cout << (*key)->mint("memberflow-cli", scopes, ttlSeconds) << "\n";
  return 0;
}

}  // namespace memberflow::cli
