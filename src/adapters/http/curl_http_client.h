// File: curl_http_client.h
// HttpClient over libcurl: a pool of easy handles so connections are reused (keep-alive),
// per-request timeouts, and transport failures classified as "not sent" or "no response".
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "ports/http_client.h"

typedef void CURL;

namespace memberflow::http {

class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient();
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;
  HttpResult send(const HttpRequest& request) override;

 private:
  CURL* acquire();
  void release(CURL* h);
  std::mutex mu_;
  std::vector<CURL*> idle_;
  std::string caFile_;  // SSL_CERT_FILE, when set: the CA bundle to trust
};

}  // namespace memberflow::http
