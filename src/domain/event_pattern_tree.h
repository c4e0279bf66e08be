// File: event_pattern_tree.h
// Internal to the event-pattern code (event_pattern_tree.cc, event_pattern.cc), never
// included elsewhere: a pattern as parsed (a tree of nodes holding conditions), which
// EventPattern::parse then lays out as its compiled form, one contiguous block per pattern
// (event_pattern.cc). The tree is the form the parser builds and checks; nothing matches on it.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace memberflow::pattern {

Status bad(const std::string& where, const std::string& what);

inline std::optional<double> number(const json::value& v) {
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
bool wildcardMatch(const Wildcard& w, std::string_view s);

struct Cidr {
  std::array<unsigned char, 16> net{};
  int bits = 0;
  bool v6 = false;
};
// An IPv4 or IPv6 address; v6 says which.
std::optional<std::array<unsigned char, 16>> parseIp(std::string_view s, bool& v6);

// asciiLower(s) == lower, without building the lowered copy.
bool equalsLowered(std::string_view s, std::string_view lower);

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

  // The compiled form tests the common kinds itself and asks this for the others (wildcards,
  // lists of anything-but values, cidr).
  bool matches(const json::value& v) const;
};

struct Node {
  struct Leaf {
    std::string field;
    std::vector<Condition> anyOf;
  };
  std::vector<Leaf> leaves;
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> children;
  std::vector<std::unique_ptr<Node>> ors;  // "$or" alternatives at this level
};

// The pattern object, checked: InvalidArgument naming the place and the problem.
Result<std::unique_ptr<Node>> parseTree(const json::object& pattern);

}  // namespace memberflow::pattern
