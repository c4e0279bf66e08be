// EventBridge event patterns as parsed (event_pattern_tree.h): the parser, from a pattern's
// JSON to the checked tree that EventPattern::parse then compiles (event_pattern.cc), and the
// conditions' own tests, which the compiled form uses for the kinds it does not inline.
#include "domain/event_pattern_tree.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "common/text.h"

namespace memberflow::pattern {

Status bad(const std::string& where, const std::string& what) {
  return Status::invalidArgument("event pattern" + (where.empty() ? "" : " at " + where) + ": " +
                                 what);
}

std::optional<std::array<unsigned char, 16>> parseIp(std::string_view s, bool& v6) {
  std::array<unsigned char, 16> out{};
  std::string str(s);
  if (inet_pton(AF_INET, str.c_str(), out.data()) == 1) {
    v6 = false;
    return out;
  }
  if (inet_pton(AF_INET6, str.c_str(), out.data()) == 1) {
    v6 = true;
    return out;
  }
  return std::nullopt;
}

namespace {

bool isOperator(std::string_view k) {
  return k == "prefix" || k == "suffix" || k == "equals-ignore-case" || k == "wildcard" ||
         k == "anything-but" || k == "numeric" || k == "exists" || k == "cidr";
}

Result<Wildcard> parseWildcard(const std::string& where, std::string_view p) {
  Wildcard w;
  std::string cur;
  bool lastStar = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size() || (p[i + 1] != '*' && p[i + 1] != '\\')) {
        return bad(where, "wildcard has an invalid escape");
      }
      cur.push_back(p[++i]);
      lastStar = false;
    } else if (c == '*') {
      if (lastStar) return bad(where, "wildcard has consecutive '*'");
      if (w.parts.empty() && cur.empty()) w.leadingStar = true;
      w.parts.push_back(cur);
      cur.clear();
      lastStar = true;
    } else {
      cur.push_back(c);
      lastStar = false;
    }
  }
  w.trailingStar = lastStar;
  w.parts.push_back(cur);
  return w;
}

Result<std::vector<std::string>> stringOrStrings(const std::string& where, const json::value& v,
                                                 const char* op) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.emplace_back(v.get_string());
  } else if (v.is_array() && !v.get_array().empty()) {
    for (const auto& e : v.get_array()) {
      if (!e.is_string()) return bad(where, std::string(op) + " takes strings");
      out.emplace_back(e.get_string());
    }
  } else {
    return bad(where, std::string(op) + " takes a string or a non-empty list of strings");
  }
  return out;
}

Result<Condition> parseAnythingBut(const std::string& where, const json::value& v) {
  Condition c;
  c.kind = Condition::Kind::kAnythingBut;
  auto addValue = [&](const json::value& e) -> Status {
    if (e.is_string())
      c.strings.emplace_back(e.get_string());
    else if (auto n = number(e))
      c.numbers.push_back(*n);
    else
      return bad(where, "anything-but takes strings or numbers");
    return Status::ok();
  };
  if (v.is_string() || v.is_number()) {
    MF_RETURN_IF_ERROR(addValue(v));
    return c;
  }
  if (v.is_array()) {
    if (v.get_array().empty()) return bad(where, "anything-but list is empty");
    for (const auto& e : v.get_array()) MF_RETURN_IF_ERROR(addValue(e));
    if (!c.strings.empty() && !c.numbers.empty()) {
      return bad(where, "anything-but list mixes strings and numbers");
    }
    return c;
  }
  if (v.is_object() && v.get_object().size() == 1) {
    const auto& kv = *v.get_object().begin();
    std::string op(kv.key());
    if (op == "prefix" || op == "suffix") {
      if (!kv.value().is_string() || kv.value().get_string().empty()) {
        return bad(where, "anything-but " + op + " takes a non-empty string");
      }
      c.kind = op == "prefix" ? Condition::Kind::kAnythingButPrefix
                              : Condition::Kind::kAnythingButSuffix;
      c.strings.emplace_back(kv.value().get_string());
      return c;
    }
    if (op == "equals-ignore-case") {
      MF_ASSIGN_OR_RETURN(c.strings,
                          stringOrStrings(where, kv.value(), "anything-but equals-ignore-case"));
      for (auto& s : c.strings) s = asciiLower(s);
      c.kind = Condition::Kind::kAnythingButIC;
      return c;
    }
    if (op == "wildcard") {
      std::vector<std::string> ws;
      MF_ASSIGN_OR_RETURN(ws, stringOrStrings(where, kv.value(), "anything-but wildcard"));
      for (const auto& w : ws) {
        Wildcard parsed;
        MF_ASSIGN_OR_RETURN(parsed, parseWildcard(where, w));
        c.wildcards.push_back(std::move(parsed));
      }
      c.kind = Condition::Kind::kAnythingButWildcard;
      return c;
    }
    return bad(where, "anything-but does not take '" + op + "'");
  }
  return bad(where,
             "anything-but takes a value, a list, or one of prefix, suffix, "
             "equals-ignore-case, wildcard");
}

Result<Condition> parseNumeric(const std::string& where, const json::value& v) {
  if (!v.is_array() || v.get_array().empty() || v.get_array().size() % 2 != 0 ||
      v.get_array().size() > 4) {
    return bad(where, "numeric takes [op, number] or [op, number, op, number]");
  }
  Condition c;
  c.kind = Condition::Kind::kNumeric;
  const auto& a = v.get_array();
  for (size_t i = 0; i < a.size(); i += 2) {
    if (!a[i].is_string()) return bad(where, "numeric operators are strings");
    auto n = number(a[i + 1]);
    if (!n || !std::isfinite(*n)) return bad(where, "numeric operands are finite numbers");
    std::string op(a[i].get_string());
    if (op == "=") {
      if (a.size() != 2) return bad(where, "numeric '=' stands alone");
      c.lowerBound = c.upperBound = *n;
      c.lowerInclusive = c.upperInclusive = true;
    } else if (op == ">" || op == ">=") {
      if (c.lowerBound) return bad(where, "numeric has two lower bounds");
      c.lowerBound = *n;
      c.lowerInclusive = op == ">=";
    } else if (op == "<" || op == "<=") {
      if (c.upperBound) return bad(where, "numeric has two upper bounds");
      c.upperBound = *n;
      c.upperInclusive = op == "<=";
    } else {
      return bad(where, "numeric operator '" + op + "' is not one of = < <= > >=");
    }
  }
  if (c.lowerBound && c.upperBound && *c.lowerBound > *c.upperBound) {
    return bad(where, "numeric range is empty");
  }
  return c;
}

Result<Condition> parseOperator(const std::string& where, const json::object& o) {
  if (o.size() != 1) return bad(where, "a condition object holds exactly one operator");
  const auto& kv = *o.begin();
  std::string op(kv.key());
  const json::value& v = kv.value();
  Condition c;
  auto nonEmptyString = [&](const char* name) -> Status {
    if (!v.is_string()) return bad(where, std::string(name) + " takes a string");
    return Status::ok();
  };
  if (op == "prefix" || op == "suffix") {
    bool pre = op == "prefix";
    if (v.is_object() && v.get_object().size() == 1 &&
        v.get_object().contains("equals-ignore-case") &&
        v.get_object().at("equals-ignore-case").is_string()) {
      c.kind = pre ? Condition::Kind::kPrefixIC : Condition::Kind::kSuffixIC;
      c.s = asciiLower(v.get_object().at("equals-ignore-case").get_string());
      return c;
    }
    MF_RETURN_IF_ERROR(nonEmptyString(op.c_str()));
    c.kind = pre ? Condition::Kind::kPrefix : Condition::Kind::kSuffix;
    c.s = std::string(v.get_string());
    return c;
  }
  if (op == "equals-ignore-case") {
    MF_RETURN_IF_ERROR(nonEmptyString("equals-ignore-case"));
    c.kind = Condition::Kind::kEqualsIC;
    c.s = asciiLower(v.get_string());
    return c;
  }
  if (op == "wildcard") {
    MF_RETURN_IF_ERROR(nonEmptyString("wildcard"));
    Wildcard w;
    MF_ASSIGN_OR_RETURN(w, parseWildcard(where, v.get_string()));
    c.kind = Condition::Kind::kWildcard;
    c.wildcards.push_back(std::move(w));
    return c;
  }
  if (op == "anything-but") return parseAnythingBut(where, v);
  if (op == "numeric") return parseNumeric(where, v);
  if (op == "exists") {
    if (!v.is_bool()) return bad(where, "exists takes true or false");
    c.kind = Condition::Kind::kExists;
    c.flag = v.get_bool();
    return c;
  }
  if (op == "cidr") {
    MF_RETURN_IF_ERROR(nonEmptyString("cidr"));
    std::string_view s = v.get_string();
    auto slash = s.find('/');
    if (slash == std::string_view::npos) return bad(where, "cidr needs /prefix-length");
    auto ip = parseIp(s.substr(0, slash), c.cidr.v6);
    std::string bitsText(s.substr(slash + 1));
    int bits = -1;
    if (!bitsText.empty() && bitsText.size() <= 3 &&
        std::all_of(bitsText.begin(), bitsText.end(),
                    [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
      bits = std::stoi(bitsText);
    }
    if (!ip || bits < 0 || bits > (c.cidr.v6 ? 128 : 32))
      return bad(where, "cidr is not an IP prefix");
    c.kind = Condition::Kind::kCidr;
    c.cidr.net = *ip;
    c.cidr.bits = bits;
    return c;
  }
  return bad(where, "unknown operator '" + op + "'");
}

Result<std::vector<Condition>> parseLeaf(const std::string& where, const json::array& a) {
  if (a.empty()) return bad(where, "a condition list is empty");
  std::vector<Condition> out;
  for (const auto& e : a) {
    Condition c;
    if (e.is_string()) {
      c.kind = Condition::Kind::kString;
      c.s = std::string(e.get_string());
    } else if (auto n = number(e)) {
      c.kind = Condition::Kind::kNumber;
      c.num = *n;
    } else if (e.is_bool()) {
      c.kind = Condition::Kind::kBool;
      c.flag = e.get_bool();
    } else if (e.is_null()) {
      c.kind = Condition::Kind::kNull;
    } else if (e.is_object()) {
      MF_ASSIGN_OR_RETURN(c, parseOperator(where, e.get_object()));
    } else {
      return bad(where, "a condition is a value or an operator object, not a nested array");
    }
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::unique_ptr<Node>> parseNode(const std::string& where, const json::object& o,
                                        bool inOr) {
  if (o.empty()) return bad(where, "an empty object matches nothing");
  auto node = std::make_unique<Node>();
  for (const auto& kv : o) {
    std::string key(kv.key());
    std::string at = where.empty() ? key : where + "." + key;
    const json::value& v = kv.value();
    if (key == "$or") {
      if (!v.is_array() || v.get_array().size() < 2) {
        return bad(at, "$or takes a list of at least two patterns");
      }
      for (const auto& alt : v.get_array()) {
        if (!alt.is_object()) return bad(at, "each $or alternative is a pattern object");
        std::unique_ptr<Node> n;
        MF_ASSIGN_OR_RETURN(n, parseNode(where, alt.get_object(), true));
        node->ors.push_back(std::move(n));
      }
      continue;
    }
    if (inOr && isOperator(key)) {
      return bad(at,
                 "'" + key + "' is an operator: inside $or, write field: [{\"" + key + "\": ...}]");
    }
    if (v.is_array()) {
      std::vector<Condition> conds;
      MF_ASSIGN_OR_RETURN(conds, parseLeaf(at, v.get_array()));
      node->leaves.push_back({key, std::move(conds)});
    } else if (v.is_object()) {
      std::unique_ptr<Node> child;
      MF_ASSIGN_OR_RETURN(child, parseNode(at, v.get_object(), false));
      node->children.emplace_back(key, std::move(child));
    } else {
      return bad(at, "a field takes a list of conditions or a nested pattern");
    }
  }
  return node;
}

}  // namespace

Result<std::unique_ptr<Node>> parseTree(const json::object& pattern) {
  return parseNode("", pattern, false);
}

// ---- the conditions' tests ---------------------------------------------------------------

bool equalsLowered(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != static_cast<unsigned char>(lower[i])) {
      return false;
    }
  }
  return true;
}

bool wildcardMatch(const Wildcard& w, std::string_view s) {
  // parts[0] is anchored at the start, parts.back() at the end, the rest float in order.
  if (w.parts.size() == 1) return s == w.parts[0];
  const std::string& first = w.parts.front();
  const std::string& last = w.parts.back();
  if (s.size() < first.size() + last.size()) return false;
  if (s.compare(0, first.size(), first) != 0) return false;
  if (s.compare(s.size() - last.size(), last.size(), last) != 0) return false;
  size_t pos = first.size();
  size_t end = s.size() - last.size();
  for (size_t i = 1; i + 1 < w.parts.size(); ++i) {
    const std::string& part = w.parts[i];
    if (part.empty()) continue;
    auto found = s.substr(0, end).find(part, pos);
    if (found == std::string_view::npos) return false;
    pos = found + part.size();
  }
  return true;
}

namespace {

bool prefixBitsEqual(const std::array<unsigned char, 16>& a, const std::array<unsigned char, 16>& b,
                     int bits) {
  int full = bits / 8, rest = bits % 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a[static_cast<size_t>(full)] & mask) == (b[static_cast<size_t>(full)] & mask);
}

}  // namespace

bool Condition::matches(const json::value& v) const {
  const bool isStr = v.is_string();
  std::string_view str = isStr ? std::string_view(v.get_string()) : std::string_view();
  switch (kind) {
    case Kind::kString: return isStr && str == s;
    case Kind::kNumber: {
      auto n = number(v);
      return n && *n == num;
    }
    case Kind::kBool: return v.is_bool() && v.get_bool() == flag;
    case Kind::kNull: return v.is_null();
    case Kind::kPrefix: return isStr && str.substr(0, s.size()) == s;
    case Kind::kPrefixIC:
      return isStr && str.size() >= s.size() && equalsLowered(str.substr(0, s.size()), s);
    case Kind::kSuffix:
      return isStr && str.size() >= s.size() && str.substr(str.size() - s.size()) == s;
    case Kind::kSuffixIC:
      return isStr && str.size() >= s.size() && equalsLowered(str.substr(str.size() - s.size()), s);
    case Kind::kEqualsIC: return isStr && equalsLowered(str, s);
    case Kind::kWildcard: return isStr && wildcardMatch(wildcards.front(), str);
    case Kind::kAnythingBut: {
      if (isStr) return std::find(strings.begin(), strings.end(), str) == strings.end();
      if (auto n = number(v)) return std::find(numbers.begin(), numbers.end(), *n) == numbers.end();
      return true;
    }
    // A value that is no string is none of the strings excluded: it matches (null, booleans and
    // numbers, as event-ruler, EventBridge's reference implementation, decides).
    case Kind::kAnythingButPrefix:
      return !isStr || std::none_of(strings.begin(), strings.end(), [&](const std::string& p) {
        return str.substr(0, p.size()) == p;
      });
    case Kind::kAnythingButSuffix:
      return !isStr || std::none_of(strings.begin(), strings.end(), [&](const std::string& p) {
        return str.size() >= p.size() && str.substr(str.size() - p.size()) == p;
      });
    case Kind::kAnythingButIC:
      return !isStr || std::none_of(strings.begin(), strings.end(),
                                    [&](const std::string& x) { return equalsLowered(str, x); });
    case Kind::kAnythingButWildcard:
      return !isStr || std::none_of(wildcards.begin(), wildcards.end(),
                                    [&](const Wildcard& w) { return wildcardMatch(w, str); });
    case Kind::kNumeric: {
      auto n = number(v);
      if (!n) return false;
      if (lowerBound && (lowerInclusive ? *n < *lowerBound : *n <= *lowerBound)) return false;
      if (upperBound && (upperInclusive ? *n > *upperBound : *n >= *upperBound)) return false;
      return true;
    }
    case Kind::kCidr: {
      if (!isStr) return false;
      bool v6 = false;
      auto ip = parseIp(str, v6);
      return ip && v6 == cidr.v6 && prefixBitsEqual(*ip, cidr.net, cidr.bits);
    }
    case Kind::kExists: return false;  // decided on the field, not on a value
  }
  return false;
}

}  // namespace memberflow::pattern
