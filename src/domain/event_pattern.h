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

#include <atomic>
#include <boost/unordered/unordered_flat_map.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "domain/event_projection.h"

namespace memberflow {

class EventPattern {
 public:
  static Result<EventPattern> parse(const json::value& pattern);
  static Result<EventPattern> parse(std::string_view text);

  bool matches(const json::value& event) const;

  // How many conjunctions the pattern expands to once every "$or" is distributed (the
  // sub-rule count event-ruler reports).
  size_t conjunctionCount() const;

  // The compiled form: one block holding the whole pattern (event_pattern.cc).
  struct Program;
  struct ProgramDeleter {
    void operator()(Program* p) const noexcept;
  };
  EventPattern(EventPattern&&) noexcept;
  EventPattern& operator=(EventPattern&&) noexcept;
  ~EventPattern();

 private:
  EventPattern();
  std::unique_ptr<Program, ProgramDeleter> program_;
};

// Many named rules compiled into one matcher. A rule's anchors are the fields of its
// top-level conjunction that hold only exact strings or only prefixes; each rule is indexed
// under its rarest anchor (the one fewest other rules share), so an event is tested only
// against rules whose rarest anchor it hits, plus rules without anchors. Matching cost grows
// with the rules that could match, not with all rules. Thread-safe for concurrent match();
// add() must not run concurrently with match().
class RuleSet {
 public:
  // InvalidArgument for a bad pattern or a duplicate name.
  Status add(const std::string& name, const json::value& pattern);
  // Names of the matching rules, in the order they were added.
  std::vector<std::string> match(const json::value& event) const;
  // match() on an event's JSON text, which `reader` reads keeping only the fields the rules
  // name (projection()); the whole text is checked all the same. InvalidArgument ("not valid
  // JSON: ...") when the text is not JSON. bench_pattern_peer matches this way, the event bus
  // the same way on its envelope (matchingRules, routing.h).
  Result<std::vector<std::string>> matchText(std::string_view json, EventReader& reader) const;
  // The fields the rules name (event_projection.h): what a reader must keep for match().
  const EventProjection& projection() const { return projection_; }
  size_t size() const { return rules_.size(); }

 private:
  struct Anchor {
    std::vector<std::string> path;
    bool prefix = false;
    std::vector<std::string> values;
  };
  struct Rule {
    std::string name;
    EventPattern pattern;
    std::vector<Anchor> anchors;
    bool anchorIsPattern = false;  // one field of exact strings: an index hit is the match
  };
  // The rules indexed under one key: `count` rules from hitPool_[first], or when count is 1
  // the rule `first` itself (most keys name one rule: no second place to look).
  struct Hits {
    uint32_t first = 0;
    uint32_t count = 0;
  };
  struct TextHash {
    using is_transparent = void;  // looked up by the event's string_view, no copy
    size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  // Open addressing, keys and hits in the table's own array: a probe is one or two cache lines
  // (std::unordered_map's was a bucket, a node and the key's text, each elsewhere).
  using HitMap = boost::unordered_flat_map<std::string, Hits, TextHash, std::equal_to<>>;
  struct PathIndex {
    std::vector<std::string> path;
    HitMap exact;
    HitMap prefix;
    std::vector<size_t> prefixLengths;  // of the keys of `prefix`, ascending, each once
  };
  void compile() const;

  std::vector<Rule> rules_;
  EventProjection projection_;
  mutable std::mutex compileMu_;
  mutable std::atomic<bool> compiled_{true};
  mutable std::vector<PathIndex> index_;
  mutable std::vector<uint32_t> unindexed_;
  mutable std::vector<uint32_t> hitPool_;  // the lists of Hits with more than one rule
};

}  // namespace memberflow
