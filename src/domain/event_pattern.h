// File: event_pattern.h
// EventBridge event patterns: parsing with validation, and matching JSON events. Pure domain
// code, no I/O. Semantics follow Amazon EventBridge and aws/event-ruler's JSON matching:
//   - a pattern mirrors the event's structure; a leaf is an array of conditions, any of which
//     may match; the fields of one object must all match (AND);
//   - conditions: exact strings, numbers (compared as numbers), booleans and null;
//     {"prefix"|"suffix": s} (or {"equals-ignore-case": s} inside them),
//     {"equals-ignore-case": s}, {"wildcard": "a*b"}, {"anything-but": value | [values] |
//     {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": s}}, {"numeric": [op, n, ...]},
//     {"exists": bool}, {"cidr": "10.0.0.0/24"};
//   - "$or": [pattern, pattern, ...] at any object level;
//   - when the event holds an array, a condition matches if any element matches, and the
//     fields of one pattern object are matched against ONE element of an array of objects
//     (array-consistent matching).
// Anything else is rejected with InvalidArgument naming the problem: unlike some emulators,
// an unknown operator is an error, never a pattern that silently matches nothing.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace memberflow {

class EventPattern {
 public:
  static Result<EventPattern> parse(const json::value& pattern);
  static Result<EventPattern> parse(std::string_view text);

  bool matches(const json::value& event) const;

  // How many conjunctions the pattern expands to once every "$or" is distributed (the
  // sub-rule count event-ruler reports).
  size_t conjunctionCount() const;

  struct Node;  // compiled tree (event_pattern.cc)
  EventPattern(EventPattern&&) noexcept;
  EventPattern& operator=(EventPattern&&) noexcept;
  ~EventPattern();

 private:
  EventPattern();
  std::unique_ptr<Node> root_;
};

// Many named rules compiled into one matcher. Rules are indexed by an exact-value field
// they require (e.g. "type" or "source"), so an event is only tested against the rules
// whose indexed value it carries, plus the few rules without such a field: matching cost
// grows with the rules that could match, not with all rules.
class RuleSet {
 public:
  // InvalidArgument for a bad pattern or a duplicate name.
  Status add(const std::string& name, const json::value& pattern);
  // Names of the matching rules, in the order they were added.
  std::vector<std::string> match(const json::value& event) const;
  size_t size() const { return rules_.size(); }

 private:
  struct Rule {
    std::string name;
    EventPattern pattern;
  };
  std::vector<Rule> rules_;
  // path (fields joined by '\x1f') -> exact string value -> rule indexes
  std::vector<std::pair<std::vector<std::string>, std::unordered_map<std::string, std::vector<size_t>>>> index_;
  std::vector<size_t> unindexed_;
};

}  // namespace memberflow
