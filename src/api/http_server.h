// File: http_server.h
// The Member API's HTTP/1.1 server on Boost.Beast: keep-alive, body and header limits (413,
// 431), a deadline for every request against slow clients, N I/O threads, and optionally TLS
// (certificate chain and key from PEM files) for deployments without a load balancer.
// Requests go to a handler function.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "api/handlers.h"

namespace memberflow::api {

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (see HttpServer::port)
  int threads = 2;
  size_t maxBodyBytes = 1 << 20;
  size_t maxHeaderBytes = 16 << 10;
  int idleTimeoutSeconds = 30;  // a request (headers and body) must arrive within this
  std::string tlsCertFile;      // with tlsKeyFile: HTTPS only (TLS 1.2 or later)
  std::string tlsKeyFile;
};

class HttpServer {
 public:
  using Handler = std::function<ApiResponse(const ApiRequest&)>;
  HttpServer(Handler handler, ServerOptions opts);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving. Unavailable when the address cannot be bound.
  Status start();
  uint16_t port() const;
  // Stops accepting, closes connections, joins the threads. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace memberflow::api
