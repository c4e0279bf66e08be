// File: handler_support.h
// Small pieces the Member API's handlers share (handlers.cc, member_writes.cc): not an API.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "api/handlers.h"
#include "common/json.h"
#include "common/status.h"

namespace memberflow::api {

inline constexpr const char* kStage = "api";  // the log's stage field

ApiResponse jsonResponse(int status, const json::value& body);
// The ETag of a version: "3".
std::string etagOf(int64_t version);
// "3", "\"3\"" or W/"3" -> 3.
std::optional<int64_t> parseEtag(std::string s);
std::optional<int64_t> parseInt(const std::string& s);
// 422 validation-failed with the rule's description.
ApiResponse unprocessable(const Status& s);

}  // namespace memberflow::api
