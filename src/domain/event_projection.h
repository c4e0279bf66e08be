// File: event_projection.h
// Reading an event's JSON text for the event-pattern matcher (event_pattern.h) without building
// what no pattern looks at. Pure domain code, no I/O.
//
// An EventProjection is the tree of field names that a set of patterns tests. EventReader reads
// a text into a small Boost.JSON value holding only those fields, and the matcher runs on that
// value exactly as on the whole document:
//   - a field that holds conditions (a leaf) keeps its value: scalars as they are, arrays with
//     every element, objects inside it as empty objects (conditions never test an object);
//   - a field that holds a nested pattern keeps its object with the projected fields only;
//     a scalar there becomes null (a nested pattern treats every scalar as an absent object);
//   - arrays keep all their elements, in order, each read as the array itself is;
//   - duplicate keys: the last one wins, as in a full parse.
// The reader is Boost.JSON's own parser (basic_parser, the tokenizer under json::parser) with a
// handler that builds only the kept values: the whole text is checked by the same code and
// options as JsonArena::parse, so the same texts are refused, and a kept number, string or key
// is what a full parse holds, to the bit.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace memberflow {

class EventProjection {
 public:
  EventProjection() = default;
  EventProjection(const EventProjection&) = delete;
  EventProjection& operator=(const EventProjection&) = delete;
  EventProjection(EventProjection&&) noexcept = default;
  EventProjection& operator=(EventProjection&&) noexcept = default;

  // Adds the fields that `pattern` names, as EventPattern::parse accepted it: a field holding
  // a list of conditions is a leaf, a field holding an object names the fields under it, the
  // alternatives of "$or" name theirs at the level of the "$or". Anything else in the pattern
  // (it cannot be an accepted pattern) makes the projection keep everything.
  void addPattern(const json::value& pattern);
  // Keeps the value at `path` as a leaf (non-empty path).
  void addField(std::initializer_list<std::string_view> path);
  // Keeps the whole document: a full parse.
  void keepEverything() { everything_ = true; }

  // The projection of the value of field `name`: an empty one (an object keeps no field, a
  // scalar becomes null) when nothing names it; this one when it keeps everything.
  const EventProjection& field(std::string_view name) const;
  // The same, or nullptr when nothing names the field.
  const EventProjection* find(std::string_view name) const;
  bool keepsEverything() const { return everything_; }
  // Whether scalars are kept as they are (else they become null).
  bool keepsScalars() const { return leaf_ || everything_; }
  // How many fields an object keeps at most (0 when it keeps everything: unknown).
  size_t fieldCount() const { return everything_ ? 0 : fields_.size(); }

 private:
  EventProjection& child(std::string_view name);
  void addNode(const json::object& pattern);

  bool everything_ = false;
  bool leaf_ = false;
  std::vector<std::pair<std::string, std::unique_ptr<EventProjection>>> fields_;
};

// Reads event texts as a projection says. One per thread: the value read lives in this
// object's arena until the next read() or the end of this object, and its parsers' buffers are
// reused from one read to the next.
class EventReader {
 public:
  EventReader();
  ~EventReader();
  EventReader(const EventReader&) = delete;
  EventReader& operator=(const EventReader&) = delete;

  // `text` as a value holding what `projection` keeps (above). InvalidArgument ("not valid
  // JSON: ...", Boost's message) exactly when JsonArena::parse refuses the text, whichever part
  // of it is wrong, kept or not.
  Result<const json::value*> read(const EventProjection& projection, std::string_view text);

 private:
  struct State;  // the parser, its handler and the arena (.cc)
  std::unique_ptr<State> state_;
};

}  // namespace memberflow
