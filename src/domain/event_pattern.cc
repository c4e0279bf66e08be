// EventBridge event patterns: the compiled form (Condition, Node), the parser, the matcher and
// the indexed RuleSet. Over 500 lines on purpose: the four share the compiled form, which is
// private to this file; splitting them would make it a header every includer of the domain
// sees, for no reader's gain. The sections below are marked (---- compiled form, parsing,
// matching, rule sets).
#include "domain/event_pattern.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <optional>
#include <tuple>

#include "common/text.h"

namespace memberflow {
namespace {

Status bad(const std::string& where, const std::string& what) {
  return Status::invalidArgument("event pattern" + (where.empty() ? "" : " at " + where) + ": " +
                                 what);
}

bool isOperator(std::string_view k) {
  return k == "prefix" || k == "suffix" || k == "equals-ignore-case" || k == "wildcard" ||
         k == "anything-but" || k == "numeric" || k == "exists" || k == "cidr";
}

// asciiLower(s) == lower, without building the lowered copy (it ran once per test per event).
bool equalsLowered(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != static_cast<unsigned char>(lower[i])) {
      return false;
    }
  }
  return true;
}

std::optional<double> number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return std::nullopt;
}

// '*' matches any run of characters; "\*" is a literal star and "\\" a literal backslash.
struct Wildcard {
  std::vector<std::string> parts;  // literal pieces between stars
  bool leadingStar = false, trailingStar = false;
};

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

struct Cidr {
  std::array<unsigned char, 16> net{};
  int bits = 0;
  bool v6 = false;
};

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

bool prefixBitsEqual(const std::array<unsigned char, 16>& a, const std::array<unsigned char, 16>& b,
                     int bits) {
  int full = bits / 8, rest = bits % 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a[static_cast<size_t>(full)] & mask) == (b[static_cast<size_t>(full)] & mask);
}

}  // namespace

// ---- compiled form ---------------------------------------------------------------------

struct Condition {
  enum class Kind {
    kString,
    kNumber,
    kBool,
    kNull,
    kPrefix,
    kPrefixIC,
    kSuffix,
    kSuffixIC,
    kEqualsIC,
    kWildcard,
    kAnythingBut,
    kAnythingButPrefix,
    kAnythingButSuffix,
    kAnythingButIC,
    kAnythingButWildcard,
    kNumeric,
    kExists,
    kCidr,
  };
  Kind kind = Kind::kNull;
  std::string s;
  double num = 0;
  bool flag = false;
  std::vector<std::string> strings;  // anything-but strings (lower-cased for IC)
  std::vector<double> numbers;       // anything-but numbers
  std::vector<Wildcard> wildcards;
  std::optional<double> lowerBound, upperBound;
  bool lowerInclusive = false, upperInclusive = false;
  Cidr cidr;

  bool matches(const json::value& v) const;
};

struct EventPattern::Node {
  struct Leaf {
    std::string field;
    std::vector<Condition> anyOf;
  };
  std::vector<Leaf> leaves;
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> children;
  std::vector<std::unique_ptr<Node>> ors;  // "$or" alternatives at this level
};

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

// ---- parsing -----------------------------------------------------------------------------

namespace {

using Node = EventPattern::Node;

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

// ---- matching ----------------------------------------------------------------------------

void leafValues(const json::value& v, std::vector<const json::value*>& out) {
  if (v.is_array()) {
    for (const auto& e : v.get_array()) leafValues(e, out);
  } else if (!v.is_object()) {
    out.push_back(&v);
  }
}

bool leafMatches(const Node::Leaf& leaf, const json::value* v) {
  // Most fields hold one scalar: it is tested where it is; an array's are gathered first.
  std::vector<const json::value*> gathered;
  const json::value* const* values = nullptr;
  size_t count = 0;
  if (v && v->is_array()) {
    leafValues(*v, gathered);
    values = gathered.data();
    count = gathered.size();
  } else if (v && !v->is_object()) {
    values = &v;
    count = 1;
  }
  for (const auto& c : leaf.anyOf) {
    if (c.kind == Condition::Kind::kExists) {
      if (c.flag == (count != 0)) return true;
      continue;
    }
    for (size_t i = 0; i < count; ++i) {
      if (c.matches(*values[i])) return true;
    }
  }
  return false;
}

bool matchNode(const Node& n, const json::value* ev) {
  if (ev && ev->is_array()) {
    // Array-consistent: one element must satisfy the whole object pattern.
    const auto& a = ev->get_array();
    if (a.empty()) return matchNode(n, nullptr);
    for (const auto& e : a) {
      if (matchNode(n, &e)) return true;
    }
    return false;
  }
  const json::object* obj = ev && ev->is_object() ? &ev->get_object() : nullptr;
  for (const auto& leaf : n.leaves) {
    if (!leafMatches(leaf, obj ? field(*obj, leaf.field) : nullptr)) return false;
  }
  for (const auto& [name, child] : n.children) {
    if (!matchNode(*child, obj ? field(*obj, name) : nullptr)) return false;
  }
  if (!n.ors.empty()) {
    return std::any_of(n.ors.begin(), n.ors.end(),
                       [&](const auto& alt) { return matchNode(*alt, ev); });
  }
  return true;
}

size_t conjunctions(const Node& n) {
  size_t product = 1;
  for (const auto& [name, child] : n.children) product *= conjunctions(*child);
  if (!n.ors.empty()) {
    size_t sum = 0;
    for (const auto& alt : n.ors) sum += conjunctions(*alt);
    product *= sum;
  }
  return product;
}

}  // namespace

EventPattern::EventPattern() = default;
EventPattern::EventPattern(EventPattern&&) noexcept = default;
EventPattern& EventPattern::operator=(EventPattern&&) noexcept = default;
EventPattern::~EventPattern() = default;

Result<EventPattern> EventPattern::parse(const json::value& pattern) {
  if (!pattern.is_object()) return bad("", "a pattern is a JSON object");
  EventPattern p;
  MF_ASSIGN_OR_RETURN(p.root_, parseNode("", pattern.get_object(), false));
  return p;
}

Result<EventPattern> EventPattern::parse(std::string_view text) {
  auto v = parseJson(text);
  if (!v.isOk()) return bad("", "not JSON");
  return parse(*v);
}

bool EventPattern::matches(const json::value& event) const { return matchNode(*root_, &event); }

size_t EventPattern::conjunctionCount() const { return conjunctions(*root_); }

// ---- rule sets ---------------------------------------------------------------------------

namespace {

using Anchor = std::tuple<std::vector<std::string>, bool, std::vector<std::string>>;

// Leaves of the top-level conjunction (not under $or) whose conditions are all exact strings,
// or all plain prefixes: (path, isPrefix, values).
void anchorsOf(const json::object& pattern, std::vector<std::string>& path,
               std::vector<Anchor>& out) {
  for (const auto& kv : pattern) {
    if (kv.key() == "$or") continue;
    path.emplace_back(kv.key());
    if (kv.value().is_object()) {
      anchorsOf(kv.value().get_object(), path, out);
    } else if (kv.value().is_array()) {
      std::vector<std::string> values;
      bool exact = true, prefix = true;
      for (const auto& e : kv.value().get_array()) {
        if (e.is_string()) {
          prefix = false;
          values.emplace_back(e.get_string());
        } else if (e.is_object() && e.get_object().size() == 1 &&
                   e.get_object().contains("prefix") && e.get_object().at("prefix").is_string()) {
          exact = false;
          values.emplace_back(e.get_object().at("prefix").get_string());
        } else {
          exact = prefix = false;
        }
      }
      if ((exact || prefix) && !values.empty()) out.emplace_back(path, !exact, std::move(values));
    }
    path.pop_back();
  }
}

// One field, at any depth, holding only exact strings: a pattern that matches exactly when one
// of them is found at that path, arrays flattened at every level, as valuesAt finds them.
bool isOneExactLeaf(const json::object& pattern) {
  if (pattern.size() != 1 || pattern.begin()->key() == "$or") return false;
  const json::value& v = pattern.begin()->value();
  if (v.is_object()) return isOneExactLeaf(v.get_object());
  return v.is_array() && !v.get_array().empty() &&
         std::all_of(v.get_array().begin(), v.get_array().end(),
                     [](const json::value& e) { return e.is_string(); });
}

std::string anchorKey(const std::vector<std::string>& path, bool prefix, const std::string& value) {
  std::string k = prefix ? "p" : "e";
  for (const auto& p : path) (k += '\x1f') += p;
  (k += '\x1e') += value;
  return k;
}

void valuesAt(const json::value& v, const std::vector<std::string>& path, size_t i,
              std::vector<std::string_view>& out) {
  if (v.is_array()) {
    for (const auto& e : v.get_array()) valuesAt(e, path, i, out);
    return;
  }
  if (i == path.size()) {
    if (v.is_string()) out.push_back(v.get_string());
    return;
  }
  if (!v.is_object()) return;
  if (const json::value* next = field(v.get_object(), path[i])) valuesAt(*next, path, i + 1, out);
}

}  // namespace

Status RuleSet::add(const std::string& name, const json::value& pattern) {
  for (const auto& r : rules_) {
    if (r.name == name) return Status::invalidArgument("rule '" + name + "' is defined twice");
  }
  auto p = EventPattern::parse(pattern);
  if (!p.isOk()) return Status::invalidArgument("rule '" + name + "': " + p.status().message());
  std::vector<::memberflow::Anchor> found;
  std::vector<std::string> path;
  anchorsOf(pattern.get_object(), path, found);
  Rule rule{name, std::move(p).value(), {}, isOneExactLeaf(pattern.get_object())};
  for (auto& [ap, prefix, values] : found) rule.anchors.push_back({ap, prefix, values});
  rules_.push_back(std::move(rule));
  projection_.addPattern(pattern);
  compiled_ = false;
  return Status::ok();
}

void RuleSet::compile() const {
  std::lock_guard lock(compileMu_);
  if (compiled_) return;
  index_.clear();
  unindexed_.clear();
  std::unordered_map<std::string, size_t> shared;  // anchor key -> rules using it
  for (const auto& r : rules_) {
    for (const auto& a : r.anchors) {
      for (const auto& v : a.values) ++shared[anchorKey(a.path, a.prefix, v)];
    }
  }
  for (uint32_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    const Anchor* best = nullptr;
    size_t bestCost = SIZE_MAX;
    for (const auto& a : r.anchors) {
      size_t cost = 0;
      for (const auto& v : a.values) cost += shared[anchorKey(a.path, a.prefix, v)];
      if (a.prefix) cost *= 2;  // a prefix costs a few lookups per event value
      if (cost < bestCost) {
        bestCost = cost;
        best = &a;
      }
    }
    if (!best) {
      unindexed_.push_back(i);
      continue;
    }
    auto it = std::find_if(index_.begin(), index_.end(),
                           [&](const PathIndex& e) { return e.path == best->path; });
    if (it == index_.end()) {
      index_.push_back(PathIndex{best->path, {}, {}, {}});
      it = index_.end() - 1;
    }
    for (const auto& v : best->values) {
      if (best->prefix) {
        it->prefix[v].push_back(i);
        auto& lengths = it->prefixLengths;
        auto at = std::lower_bound(lengths.begin(), lengths.end(), v.size());
        if (at == lengths.end() || *at != v.size()) lengths.insert(at, v.size());
      } else {
        it->exact[v].push_back(i);
      }
    }
  }
  compiled_ = true;
}

std::vector<std::string> RuleSet::match(const json::value& event) const {
  if (!compiled_) compile();
  std::vector<std::string> out;
  if (index_.empty()) {  // every rule is a candidate; unindexed_ is in order
    for (uint32_t i : unindexed_) {
      if (rules_[i].pattern.matches(event)) out.push_back(rules_[i].name);
    }
    return out;
  }
  std::vector<uint32_t> candidates = unindexed_;
  std::vector<std::string_view> values;
  std::string key;
  for (const auto& pi : index_) {
    values.clear();
    valuesAt(event, pi.path, 0, values);
    for (auto v : values) {
      key.assign(v);
      if (auto it = pi.exact.find(key); it != pi.exact.end()) {
        candidates.insert(candidates.end(), it->second.begin(), it->second.end());
      }
      if (pi.prefix.empty()) continue;
      // Only the lengths some rule's prefix has: a lookup at any other cannot hit.
      for (size_t len : pi.prefixLengths) {
        if (len > v.size()) break;
        key.assign(v.substr(0, len));
        if (auto it = pi.prefix.find(key); it != pi.prefix.end()) {
          candidates.insert(candidates.end(), it->second.begin(), it->second.end());
        }
      }
    }
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  for (uint32_t i : candidates) {
    // Such a rule is indexed under its only anchor, the exact strings it is: found, it matched.
    if (rules_[i].anchorIsPattern || rules_[i].pattern.matches(event)) {
      out.push_back(rules_[i].name);
    }
  }
  return out;
}

Result<std::vector<std::string>> RuleSet::matchText(std::string_view json,
                                                    EventReader& reader) const {
  auto event = reader.read(projection_, json);
  if (!event.isOk()) return event.status();
  return match(**event);
}

}  // namespace memberflow
