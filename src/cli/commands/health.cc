// `memberflow health`: the container's health check. The API image has no shell and no curl, so
// the binary probes its own API: GET <api>/healthz, exit 0 on 200, 1 otherwise, one line out.
#include <iostream>

#include "cli/commands.h"
#include "cli/wiring.h"

namespace memberflow::cli {

int healthCommand(const Config& cfg, const std::string& url, long timeoutMs) {
  Wiring w(cfg);
  HttpRequest req;
  req.url = url.empty() ? cfg.apiUrl() + "/healthz" : url;
  req.timeoutMs = timeoutMs;
  auto r = w.http().send(req);
  if (!r.ok()) {
    std::cout << "unhealthy: " << req.url << ": " << r.error << "\n";
    return 1;
  }
  if (r.response.status != 200) {
    std::cout << "unhealthy: " << req.url << ": status " << r.response.status << "\n";
    return 1;
  }
  std::cout << "healthy: " << req.url << "\n";
  return 0;
}

}  // namespace memberflow::cli
