// File: lambda_runtime.h
// A client of the AWS Lambda Runtime API (what a custom runtime on provided.al2023 speaks,
// at $AWS_LAMBDA_RUNTIME_API, paths under /2018-06-01/runtime/). One loop per process: fetch
// the next invocation, handle it, post its response or its error. Nothing here reads or logs
// an event's or a response's content.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "ports/http_client.h"

namespace memberflow::aws {

// One invocation, as the Runtime API hands it out.
struct Invocation {
  std::string requestId;    // Lambda-Runtime-Aws-Request-Id: names the invocation's result
  int64_t deadlineMs = 0;   // Lambda-Runtime-Deadline-Ms: epoch ms when the function is stopped
  std::string functionArn;  // Lambda-Runtime-Invoked-Function-Arn
  std::string traceId;      // Lambda-Runtime-Trace-Id (for _X_AMZN_TRACE_ID), may be empty
  std::string body;         // the event
};

// An error result. errorType is "Runtime.<Name>" for a failure of the runtime itself (a bad
// configuration, an unreadable event) and "Function.<Name>" for one of the work (a dependency
// down); it is also sent as the Lambda-Runtime-Function-Error-Type header. The message must
// hold no event content and no member data.
struct InvocationError {
  std::string errorType;
  std::string errorMessage;
};

class LambdaRuntimeApi {
 public:
  // endpoint: host:port, as in AWS_LAMBDA_RUNTIME_API.
  LambdaRuntimeApi(HttpClient& http, std::string endpoint)
      : http_(http), base_("http://" + std::move(endpoint) + "/2018-06-01/runtime") {}

  // Waits, without a total timeout, for the next invocation (the runtime is frozen in this call
  // between invocations). Unavailable when the Runtime API cannot be reached or answers
  // anything but 200 with a request id: the process should exit.
  Result<Invocation> next();
  // Posts the invocation's response (JSON). Unavailable when it was not accepted (202): the
  // process should exit, as the Runtime API expects of a runtime that cannot report.
  Status respond(const std::string& requestId, const std::string& body);
  // Posts an invocation error.
  Status fail(const std::string& requestId, const InvocationError& e);
  // Posts an initialization error (before the first next()); the process exits afterwards.
  Status initError(const InvocationError& e);

 private:
  Status post(const std::string& path, const std::string& body, const std::string& errorType);

  HttpClient& http_;
  std::string base_;
};

// The error document the Runtime API takes: {"errorMessage", "errorType", "stackTrace": []}.
std::string errorDocument(const InvocationError& e);

}  // namespace memberflow::aws
