// File: text.h
// Small ASCII text helpers used across the adapters, the API and the CLI: lower-casing,
// comma-separated config lists, RFC 3986 percent-encoding.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace memberflow {

std::string asciiLower(std::string_view s);

// "a,b,,c" -> {"a", "b", "c"}: the entries in order, empty ones dropped, no trimming.
std::vector<std::string> splitList(std::string_view text, char sep = ',');

// RFC 3986: everything but the unreserved characters (and '/' when keepSlash) as %XX.
std::string percentEncode(std::string_view s, bool keepSlash = false);
// %XX sequences decoded; anything else (a stray '%' included) kept as it is.
std::string percentDecode(std::string_view s);

// application/x-www-form-urlencoded (OAuth's token requests), both ways. Decoding: nullopt
// when a parameter repeats (RFC 6749 §3.2 makes such a request invalid).
std::string formEncode(const std::vector<std::pair<std::string, std::string>>& fields);
std::optional<std::map<std::string, std::string>> formDecode(std::string_view body);

}  // namespace memberflow
