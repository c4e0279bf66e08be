// File: json.h
// Small helpers over Boost.JSON used across the domain and the adapters.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace memberflow {
namespace json = boost::json;

// Parses text into a value; InvalidArgument with the parser's message when it is not JSON.
Result<json::value> parseJson(std::string_view text);

// Compact serialisation.
std::string toJson(const json::value& v);

// Field access that tolerates absence: nullptr when missing.
const json::value* field(const json::object& o, std::string_view name);

// A string field, or nullopt when missing, null or not a string.
std::optional<std::string> stringField(const json::object& o, std::string_view name);

// An integer field (int64/uint64/integral double), or nullopt.
std::optional<int64_t> intField(const json::object& o, std::string_view name);

// JSON null for an empty optional, else the string.
json::value orNull(const std::optional<std::string>& s);

}  // namespace memberflow
