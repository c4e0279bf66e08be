// File: console_json.h
// The console endpoints' responses: JSON bodies and problems from a Status.
#pragma once

#include <cstdint>
#include <map>
#include <string>

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

// A query parameter's value, nullptr when absent or empty.
inline const std::string* param(const std::map<std::string, std::string>& query, const char* k) {
  auto it = query.find(k);
  return it == query.end() || it->second.empty() ? nullptr : &it->second;
}

// The coordinates a lineage object names (topic, partition, offset, archive key and line).
inline json::object coordinatesOf(const json::object& lineage) {
  json::object c;
  for (const char* k : {"topic", "partition", "offset", "archiveKey", "archiveLine"})
    if (auto* v = lineage.if_contains(k)) c[k] = *v;
  return c;
}

inline json::value isoOrNull(int64_t ms) {
  return ms > 0 ? json::value(isoMillis(ms)) : json::value();
}

}  // namespace memberflow::console
