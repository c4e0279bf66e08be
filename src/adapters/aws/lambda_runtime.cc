#include "adapters/aws/lambda_runtime.h"

#include <cstdlib>

#include "common/json.h"

namespace memberflow::aws {

std::string errorDocument(const InvocationError& e) {
  return toJson(json::object{
      {"errorMessage", e.errorMessage}, {"errorType", e.errorType}, {"stackTrace", json::array{}}});
}

Result<Invocation> LambdaRuntimeApi::next() {
  HttpRequest req;
  req.method = "GET";
  req.url = base_ + "/invocation/next";
  req.timeoutMs = 0;  // no total timeout: the call returns when there is work, however late
  auto r = http_.send(req);
  if (!r.ok()) return Status::unavailable("runtime API next: " + r.error);
  if (r.response.status != 200)
    return Status::unavailable("runtime API next: status " + std::to_string(r.response.status));
  Invocation inv;
  inv.requestId = r.response.header("lambda-runtime-aws-request-id");
  if (inv.requestId.empty()) return Status::unavailable("runtime API next: no request id");
  inv.deadlineMs = std::atoll(r.response.header("lambda-runtime-deadline-ms").c_str());
  inv.functionArn = r.response.header("lambda-runtime-invoked-function-arn");
  inv.traceId = r.response.header("lambda-runtime-trace-id");
  inv.body = std::move(r.response.body);
  return inv;
}

Status LambdaRuntimeApi::post(const std::string& path, const std::string& body,
                              const std::string& errorType) {
  HttpRequest req;
  req.method = "POST";
  req.url = base_ + path;
  req.headers = {{"Content-Type", "application/json"}};
  if (!errorType.empty()) req.headers.emplace_back("Lambda-Runtime-Function-Error-Type", errorType);
  req.body = body;
  req.timeoutMs = 30000;
  auto r = http_.send(req);
  if (!r.ok()) return Status::unavailable("runtime API " + path + ": " + r.error);
  if (r.response.status != 202) {
    return Status::unavailable("runtime API " + path + ": status " +
                               std::to_string(r.response.status));
  }
  return Status::ok();
}

Status LambdaRuntimeApi::respond(const std::string& requestId, const std::string& body) {
  return post("/invocation/" + requestId + "/response", body, "");
}

Status LambdaRuntimeApi::fail(const std::string& requestId, const InvocationError& e) {
  return post("/invocation/" + requestId + "/error", errorDocument(e), e.errorType);
}

Status LambdaRuntimeApi::initError(const InvocationError& e) {
  return post("/init/error", errorDocument(e), e.errorType);
}

}  // namespace memberflow::aws
