#include "adapters/aws/aws_client.h"

#include <algorithm>
#include <cstdlib>

#include "common/log.h"
#include "common/text.h"

namespace memberflow::aws {

Result<Credentials> EnvCredentials::get() {
  const char* id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (!id || !secret) return Status::notFound("no AWS credentials in the environment");
  const char* token = std::getenv("AWS_SESSION_TOKEN");
  return Credentials{id, secret, token ? token : ""};
}

std::string awsErrorCode(const std::string& body) {
  auto v = parseJson(body);
  if (!v.isOk() || !v->is_object()) return {};
  std::string t = stringField(v->get_object(), "__type")
                      .value_or(stringField(v->get_object(), "code").value_or(""));
  auto hash = t.rfind('#');
  return hash == std::string::npos ? t : t.substr(hash + 1);
}

std::string queryErrorCode(const std::string& body) {
  auto start = body.find("<Code>");
  if (start == std::string::npos) return "";
  start += 6;
  // The first </Code> after it: one found before would make the length wrap around and the
  // code run on to the end of the body.
  auto end = body.find("</Code>", start);
  return end == std::string::npos ? "" : body.substr(start, end - start);
}

std::string AwsClient::endpointFor(const std::string& service) const {
  if (auto it = cfg_.serviceEndpoints.find(service); it != cfg_.serviceEndpoints.end())
    return it->second;
  if (!cfg_.endpoint.empty()) return cfg_.endpoint;
  return "https://" + service + "." + cfg_.region + ".amazonaws.com";
}

Result<HttpResponse> AwsClient::send(const std::string& service, const AwsRequest& req) {
  auto creds = creds_.get();
  if (!creds.isOk()) return Status::unavailable("aws credentials: " + creds.status().message());
  std::string base = endpointFor(service);
  size_t scheme = base.find("://") + 3;
  base.insert(scheme, req.hostPrefix);
  std::string host = base.substr(scheme);
  BackoffPolicy policy = cfg_.retry;
  policy.maxAttempts = std::max(policy.maxAttempts, 1);  // one try at least; never unlimited
  Retry retry(policy, clock_, stop_, std::nullopt, cfg_.jitterSeed);
  for (;;) {
    SignableRequest sr{req.method, req.path, req.query, req.headers, req.body};
    sr.headers.emplace_back("Host", host);
    SigningOptions so;
    so.region = cfg_.region;
    so.service = service;
    so.epochSeconds = clock_.nowMs() / 1000;
    so.normalizePath = !req.s3;
    so.signBody = req.s3;
    Signature sig = signHeaders(sr, *creds, so);
    HttpRequest hr;
    hr.method = req.method;
    hr.url = base + req.path + (req.query.empty() ? "" : "?" + req.query);
    hr.headers = req.headers;
    for (const auto& h : sig.headers) hr.headers.push_back(h);
    hr.body = req.body;
    hr.timeoutMs = cfg_.timeoutMs;
    HttpResult r = http_.send(hr);
    std::string why;  // set when the attempt is worth repeating
    if (!r.ok()) {
      // "Not sent" is always safe to repeat; "no response" is too for these calls, which are
      // idempotent by design (conditional writes, dedup ids, puts of whole objects).
      why = r.error;
    } else {
      int st = r.response.status;
      std::string code = awsErrorCode(r.response.body);
      bool throttled = st == 429 || code.find("Throttl") != std::string::npos ||
                       code == "ProvisionedThroughputExceededException" ||
                       code == "RequestLimitExceeded" ||
                       r.response.body.find("<Code>SlowDown</Code>") != std::string::npos;
      if (st >= 500 || throttled) {
        why = "HTTP " + std::to_string(st) + (code.empty() ? "" : " " + code);
      } else {
        return r.response;
      }
    }
    // Out of tries, or stopped while backing off: the caller sees an outage.
    if (!retry.backoff()) return Status::unavailable(service + ": " + why);
  }
}

Result<json::value> AwsClient::json(const std::string& service, const std::string& target,
                                    const json::value& body, const std::string& contentType) {
  AwsRequest req;
  req.method = "POST";
  req.path = "/";
  req.headers = {{"Content-Type", contentType}, {"X-Amz-Target", target}};
  req.body = json::serialize(body);
  auto r = send(service, req);
  if (!r.isOk()) return r.status();
  if (r->status >= 200 && r->status < 300) {
    if (r->body.empty()) return json::value(json::object{});
    auto v = parseJson(r->body);
    if (!v.isOk()) return Status::internal(service + ": response is not JSON");
    return *v;
  }
  // The service's error code goes along as the status's reason, for callers that act on it.
  std::string code = awsErrorCode(r->body);
  std::string msg = service + " " + target.substr(target.find('.') + 1) + ": " + code;
  if (code.find("NotFound") != std::string::npos || code == "QueueDoesNotExist" ||
      code == "AWS.SimpleQueueService.NonExistentQueue") {
    return Status::notFound(msg).withReason(code);
  }
  if (code == "ConditionalCheckFailedException") return Status::alreadyExists(msg).withReason(code);
  if (r->status == 400 || r->status == 404) return Status::invalidArgument(msg).withReason(code);
  return Status::internal(msg + " (HTTP " + std::to_string(r->status) + ")").withReason(code);
}

Result<std::string> AwsClient::query(const std::string& service, const std::string& action,
                                     const std::vector<std::pair<std::string, std::string>>& params,
                                     const std::string& version) {
  AwsRequest req;
  req.method = "POST";
  req.path = "/";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = "Action=" + percentEncode(action, false) + "&Version=" + percentEncode(version, false);
  for (const auto& [k, v] : params)
    req.body += "&" + percentEncode(k, false) + "=" + percentEncode(v, false);
  auto r = send(service, req);
  if (!r.isOk()) return r.status();
  if (r->status >= 200 && r->status < 300) return std::move(r->body);
  std::string code = queryErrorCode(r->body);
  std::string msg = service + " " + action + ": " + code;
  if (code.find("NotFound") != std::string::npos) return Status::notFound(msg).withReason(code);
  if (r->status == 400) return Status::invalidArgument(msg).withReason(code);
  return Status::internal(msg + " (HTTP " + std::to_string(r->status) + ")").withReason(code);
}

}  // namespace memberflow::aws
