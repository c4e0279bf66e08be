#include "adapters/http/curl_http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "common/text.h"

namespace memberflow::http {
namespace {

struct GlobalInit {
  GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

size_t onBody(char* ptr, size_t size, size_t n, void* userdata) {
  static_cast<std::string*>(userdata)->append(ptr, size * n);
  return size * n;
}

size_t onHeader(char* ptr, size_t size, size_t n, void* userdata) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(userdata);
  std::string line(ptr, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();  // a new response (after 100-continue or a redirect)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = asciiLower(line.substr(0, colon));
    size_t b = colon + 1;
    while (b < line.size() && (line[b] == ' ' || line[b] == '\t')) ++b;
    size_t e = line.size();
    while (e > b && (line[e - 1] == '\r' || line[e - 1] == '\n' || line[e - 1] == ' ')) --e;
    headers->emplace_back(std::move(name), line.substr(b, e - b));
  }
  return size * n;
}

}  // namespace

CurlHttpClient::CurlHttpClient() {
  static GlobalInit init;
  // Debian's libcurl has Debian's CA file compiled in and does not read SSL_CERT_FILE. Where the
  // binary runs elsewhere with its bundled libraries (the Lambda zip on Amazon Linux, whose
  // bundle lives at another path), SSL_CERT_FILE names the CA bundle to trust.
  if (const char* f = std::getenv("SSL_CERT_FILE"); f && *f) caFile_ = f;
}

CurlHttpClient::~CurlHttpClient() {
  for (CURL* h : idle_) curl_easy_cleanup(h);
}

CURL* CurlHttpClient::acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      CURL* h = idle_.back();
      idle_.pop_back();
      curl_easy_reset(h);  // keeps the connection cache
      return h;
    }
  }
  return curl_easy_init();
}

void CurlHttpClient::release(CURL* h) {
  std::lock_guard lock(mu_);
  idle_.push_back(h);
}

HttpResult CurlHttpClient::send(const HttpRequest& req) {
  HttpResult result;
  CURL* h = acquire();
  if (h == nullptr) {
    result.transport = HttpResult::Transport::kNotSent;
    result.error = "curl_easy_init failed";
    return result;
  }
  curl_slist* hdrs = nullptr;
  for (const auto& [k, v] : req.headers) hdrs = curl_slist_append(hdrs, (k + ": " + v).c_str());
  hdrs = curl_slist_append(hdrs, "Expect:");
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  if (!caFile_.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, caFile_.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  if (req.method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req.timeoutMs);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   req.timeoutMs > 0 ? std::min(req.timeoutMs, 5000L) : 5000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &result.response.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &result.response.headers);
  CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(hdrs);
  if (rc == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    result.response.status = static_cast<int>(status);
  } else {
    bool notSent = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                   rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_URL_MALFORMAT ||
                   rc == CURLE_UNSUPPORTED_PROTOCOL;
    result.transport =
        notSent ? HttpResult::Transport::kNotSent : HttpResult::Transport::kNoResponse;
    result.error = curl_easy_strerror(rc);
  }
  release(h);
  return result;
}

}  // namespace memberflow::http
