#include "common/text.h"

#include <algorithm>
#include <cctype>

namespace memberflow {

std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> splitList(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string percentEncode(std::string_view s, bool keepSlash) {
  static const char* hexd = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keepSlash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hexd[c >> 4]);
      out.push_back(hexd[c & 15]);
    }
  }
  return out;
}

std::string percentDecode(std::string_view s) {
  auto hexv = [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10);
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(hexv(s[i + 1]) * 16 + hexv(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string formEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields)
    out += (out.empty() ? "" : "&") + percentEncode(k) + "=" + percentEncode(v);
  return out;
}

std::optional<std::map<std::string, std::string>> formDecode(std::string_view body) {
  std::map<std::string, std::string> out;
  for (std::string pair : splitList(body, '&')) {
    std::replace(pair.begin(), pair.end(), '+', ' ');  // before decoding: "%2B" stays a plus
    size_t eq = pair.find('=');
    std::string k = percentDecode(pair.substr(0, eq));
    std::string v = eq == std::string::npos ? "" : percentDecode(pair.substr(eq + 1));
    // RFC 6749 §3.2: a parameter sent twice makes the request invalid.
    if (!out.emplace(std::move(k), std::move(v)).second) return std::nullopt;
  }
  return out;
}

}  // namespace memberflow
