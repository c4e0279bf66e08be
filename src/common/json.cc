#include "common/json.h"

#include <cmath>

namespace memberflow {

const char* codeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kNotFound: return "NOT_FOUND";
    case Code::kAlreadyExists: return "ALREADY_EXISTS";
    case Code::kInvalidArgument: return "INVALID_ARGUMENT";
    case Code::kUnavailable: return "UNAVAILABLE";
    case Code::kFailedPrecondition: return "FAILED_PRECONDITION";
    case Code::kInternal: return "INTERNAL";
  }
  return "UNKNOWN";
}

std::string Status::toString() const {
  if (isOk()) return "OK";
  std::string out = codeName(code_);
  out += ": ";
  if (!reason_.empty()) {
    out += reason_;
    out += ": ";
  }
  out += message_;
  return out;
}

Result<json::value> parseJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Status::invalidArgument("not valid JSON: " + ec.message());
  return v;
}

Result<const json::value*> JsonArena::parse(std::string_view text) {
  value_.reset();  // its nodes live in the arena: nothing to free one by one
  arena_.release();
  parser_.reset(json::storage_ptr(&arena_));
  boost::system::error_code ec;
  parser_.write(text.data(), text.size(), ec);
  if (ec) return Status::invalidArgument("not valid JSON: " + ec.message());
  value_.emplace(parser_.release());
  return &*value_;
}

std::string toJson(const json::value& v) { return json::serialize(v); }

const json::value* field(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  return it == o.end() ? nullptr : &it->value();
}

std::optional<std::string> stringField(const json::object& o, std::string_view name) {
  const json::value* v = field(o, name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

std::optional<int64_t> intField(const json::object& o, std::string_view name) {
  const json::value* v = field(o, name);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->get_uint64());
  }
  if (v->is_double()) {
    double d = v->get_double();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e18) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

json::value orNull(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return json::string(*s);
}

void appendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t run = 0;  // start of the characters not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    out += '\\';
    switch (c) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '\b': out += 'b'; break;
      case '\t': out += 't'; break;
      case '\n': out += 'n'; break;
      case '\f': out += 'f'; break;
      case '\r': out += 'r'; break;
      default:
        out += "u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void appendJsonString(std::string& out, const std::optional<std::string>& s) {
  if (s) {
    appendJsonString(out, std::string_view(*s));
  } else {
    out += "null";
  }
}

}  // namespace memberflow
