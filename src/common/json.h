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

// Parses in a hot loop without an allocation per node: the value comes from an arena that the
// next parse() on this object empties, and the parser's buffers are reused. The returned
// pointer is valid until the next parse() or the end of this object. One per thread.
class JsonArena {
 public:
  JsonArena() : arena_(buffer_, sizeof buffer_) {}
  JsonArena(const JsonArena&) = delete;
  JsonArena& operator=(const JsonArena&) = delete;
  Result<const json::value*> parse(std::string_view text);

 private:
  // Most events fit the first block; Boost 1.81's release() only rewinds a resource that
  // started from a caller's buffer (one made with just a size throws bad_alloc after it).
  unsigned char buffer_[16 * 1024];
  json::monotonic_resource arena_;
  json::parser parser_;
  std::optional<json::value> value_;
};

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

// Direct writers, for the documents built for every change: they append exactly the bytes
// json::serialize gives for the same value (its escapes: \" \\ \b \t \n \f \r, \u00xx for
// the other control characters, everything else as it is), without a json::value on the way.
void appendJsonString(std::string& out, std::string_view s);
inline void appendJsonString(std::string& out, const std::string& s) {
  appendJsonString(out, std::string_view(s));
}
// null for an empty optional.
void appendJsonString(std::string& out, const std::optional<std::string>& s);

}  // namespace memberflow
