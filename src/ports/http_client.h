// File: http_client.h
// HttpClient: every outbound HTTP call (sync -> Member API, webhooks, AWS) goes through it.
// "Never sent" is kept apart from "sent, no answer": only the first is always safe to retry.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace memberflow {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  long timeoutMs = 10000;  // the whole exchange; 0: no limit (connecting is still bounded)
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& lowerName) const {
    for (const auto& [k, v] : headers) {
      if (k == lowerName) return v;
    }
    return {};
  }
};

struct HttpResult {
  enum class Transport {
    kOk,          // a response arrived (any status)
    kNotSent,     // connection failed before the request left: safe to retry
    kNoResponse,  // sent, then timeout or reset: the server may have acted
  };
  Transport transport = Transport::kOk;
  HttpResponse response;
  std::string error;  // transport error text, without request content
  bool ok() const { return transport == Transport::kOk; }
};

// Thread-safe unless an adapter says otherwise.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual HttpResult send(const HttpRequest& request) = 0;
};

}  // namespace memberflow
