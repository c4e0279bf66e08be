// File: console_json.h
// The console endpoints' responses: JSON bodies and problems from a Status.
#pragma once

#include <cstdint>

#include "api/handlers.h"
#include "common/json.h"
#include "common/status.h"
#include "common/time.h"

namespace memberflow::console {

inline api::ApiResponse jsonOk(const json::object& o) {
  return {200, {{"Content-Type", "application/json"}}, json::serialize(o)};
}

// A failed port call as a problem: the status's message names ids and causes, never data.
inline api::ApiResponse fromStatus(const Status& s) {
  switch (s.code()) {
    case Code::kInvalidArgument:
      return api::problem(400, "bad-request", "Bad request", s.message());
    case Code::kNotFound: return api::problem(404, "not-found", "Not found", s.message());
    case Code::kFailedPrecondition:
      return api::problem(409, "conflict", "Not possible now", s.message());
    case Code::kUnavailable:
      return api::problem(503, "unavailable", "Service unavailable", s.message());
    default: return api::problem(500, "internal", "Internal error", s.message());
  }
}

inline json::value isoOrNull(int64_t ms) {
  return ms > 0 ? json::value(isoMillis(ms)) : json::value();
}

}  // namespace memberflow::console
