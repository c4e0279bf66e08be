// File: http_api_event.h
// The Member API behind Amazon API Gateway's HTTP API with a Lambda integration (payload
// format 2.0): the event turned into the ApiRequest that the Beast server would have built, and
// the handler's ApiResponse turned into the integration's answer. Same handlers, auth and store
// as `memberflow api` (DESIGN.md §9, `memberflow lambda api`).
#pragma once

#include "api/handlers.h"
#include "common/json.h"
#include "common/status.h"

namespace memberflow::api {

// {"version": "2.0", "rawPath", "rawQueryString", "headers": {name: value, comma-joined},
// "cookies": [...], "requestContext": {"http": {"method", "sourceIp"}}, "body",
// "isBase64Encoded"} -> the request. Header names are lower-cased; cookies become one Cookie
// header. InvalidArgument when it is no payload-2.0 event (no method or path, a body that is
// not base64 although it says so).
Result<ApiRequest> requestFromHttpApiEvent(const json::value& event);

// {"statusCode", "headers", "body", "isBase64Encoded": false}. Repeated headers are joined with
// commas, Set-Cookie ones go to "cookies" (as the format wants).
std::string httpApiResponse(const ApiResponse& r);

}  // namespace memberflow::api
