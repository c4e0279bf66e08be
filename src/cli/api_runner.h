// File: api_runner.h
// The Member API of one process: its bearer-token verifier (an external issuer's key set, or
// the embedded issuer with its token endpoint and key set), the handlers and the HTTP server.
#pragma once

#include <memory>

#include "api/auth.h"
#include "api/handlers.h"
#include "api/http_server.h"
#include "api/jwt.h"
#include "api/oauth.h"
#include "cli/operator_wiring.h"
#include "cli/wiring.h"
#include "console/console_api.h"

namespace memberflow::cli {

class ApiRunner {
 public:
  // Opens the member store, the read cache (when api.cache_entries > 0) and the verifier, and
  // builds the handlers; `withConsole`: the operator console too (console.enabled; not in a
  // Lambda function). REQUIRES: called once.
  Status open(Wiring& w, bool withConsole = false);
  // open() with the console, then starts serving (the server listens from here on) and the
  // console's sampling. REQUIRES: called once.
  Status start(Wiring& w);
  // The handlers, or nullptr before open.
  const api::MemberApi* handler() const { return handler_.get(); }
  // The running server, or nullptr before start.
  api::HttpServer* server() { return server_.get(); }

 private:
  Status openAuth(Wiring& w, api::ApiOptions& ao, const api::Authenticator** auth);

  std::unique_ptr<api::JwtVerifier> external_;
  std::unique_ptr<api::VerifiedTokenCache> tokens_;
  std::unique_ptr<api::TokenEndpoint> tokenEndpoint_;
  // The console's own ports (its own Wiring: its connections apart from the stages').
  std::unique_ptr<WiringOperatorPorts> consolePorts_;
  std::unique_ptr<WiringOperatorPorts> redrivePorts_;  // a redrive's own (it may run for minutes)
  std::unique_ptr<console::ConsoleApi> console_;
  std::unique_ptr<api::MemberApi> handler_;
  std::unique_ptr<api::HttpServer> server_;
};

}  // namespace memberflow::cli
