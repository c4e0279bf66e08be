// The projection of a set of event patterns, and the reader that parses an event's text keeping
// only what it names: Boost.JSON's basic_parser reads the whole text (and so checks it) and
// calls a handler that builds the kept values in an arena, skipping the rest.
#include "domain/event_projection.h"

// basic_parser's implementation, which its users include once (Boost.JSON's documentation).
#include <boost/json/basic_parser_impl.hpp>
#include <cstring>
#include <optional>

namespace memberflow {

// ---- the projection ------------------------------------------------------------------------

void EventProjection::addPattern(const json::value& pattern) {
  if (!pattern.is_object()) {
    everything_ = true;
    return;
  }
  addNode(pattern.get_object());
}

void EventProjection::addNode(const json::object& pattern) {
  for (const auto& kv : pattern) {
    const json::value& v = kv.value();
    if (kv.key() == "$or") {
      // Each alternative is matched against this same object: its fields are fields here.
      if (!v.is_array()) {
        everything_ = true;
        continue;
      }
      for (const auto& alt : v.get_array()) {
        if (alt.is_object()) {
          addNode(alt.get_object());
        } else {
          everything_ = true;
        }
      }
      continue;
    }
    EventProjection& c = child(kv.key());
    if (v.is_array()) {
      c.leaf_ = true;  // a list of conditions: they test the field's own value
    } else if (v.is_object()) {
      c.addNode(v.get_object());
    } else {
      c.everything_ = true;
    }
  }
}

void EventProjection::addField(std::initializer_list<std::string_view> path) {
  EventProjection* p = this;
  for (std::string_view name : path) p = &p->child(name);
  p->leaf_ = true;
}

namespace {
// Field names are short and mostly differ in length: the length first, then the bytes.
bool sameName(const std::string& a, std::string_view b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), b.size()) == 0;
}
}  // namespace

EventProjection& EventProjection::child(std::string_view name) {
  for (auto& [n, p] : fields_) {
    if (sameName(n, name)) return *p;
  }
  fields_.emplace_back(std::string(name), std::make_unique<EventProjection>());
  return *fields_.back().second;
}

const EventProjection* EventProjection::find(std::string_view name) const {
  if (everything_) return this;
  for (const auto& [n, p] : fields_) {
    if (sameName(n, name)) return p.get();
  }
  return nullptr;
}

const EventProjection& EventProjection::field(std::string_view name) const {
  static const EventProjection kNothing;
  const EventProjection* p = find(name);
  return p ? *p : kNothing;
}

// ---- the reader ----------------------------------------------------------------------------

namespace {

using json::error_code;

// The handler of basic_parser: builds the values `projection` keeps, in the arena, and nothing
// of the rest. Its limits are those of json::parser's handler, so the parser refuses the same
// texts.
class Projector {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  // Drops what the last read built, before its arena is emptied.
  void clear() {
    root_.reset();
    stack_.clear();
  }
  void start(const EventProjection& projection, json::storage_ptr sp) {
    projection_ = &projection;
    root_.emplace(std::move(sp));  // (assigning would keep the old value's storage)
    key_.clear();
    inString_ = false;
  }
  json::value& root() { return *root_; }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) {
    const EventProjection* p = nullptr;
    json::value* slot = begin(p);
    json::object* o = nullptr;
    if (slot) {
      o = &slot->emplace_object();
      o->reserve(p->fieldCount());  // at most one slot per name: no rehash as it fills
    }
    stack_.push_back({p, o, nullptr});
    return true;
  }
  bool on_object_end(std::size_t, error_code&) {
    stack_.pop_back();
    return true;
  }
  bool on_array_begin(error_code&) {
    const EventProjection* p = nullptr;
    json::value* slot = begin(p);
    json::array* a = nullptr;
    if (slot) {
      a = &slot->emplace_array();
      a->reserve(8);  // in the arena: growing means copying into a new block
    }
    stack_.push_back({p, nullptr, a});
    return true;
  }
  bool on_array_end(std::size_t, error_code&) {
    stack_.pop_back();
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, error_code&) {
    std::string_view key(s.data(), s.size());
    if (!key_.empty()) key = key_.append(s.data(), s.size());
    const Frame& f = stack_.back();
    keyProjection_ = f.object ? f.projection->find(key) : nullptr;
    // operator[] finds an earlier duplicate, which the new value replaces: the last one wins.
    keySlot_ = keyProjection_ ? &(*f.object)[key] : nullptr;
    key_.clear();
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, error_code&) {
    stringPart(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, error_code&) {
    stringPart(s);
    if (stringSlot_ && !keepString_) *stringSlot_ = nullptr;
    inString_ = false;
    return true;
  }
  bool on_number_part(json::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, error_code&) { return scalar(i); }
  bool on_uint64(std::uint64_t u, json::string_view, error_code&) { return scalar(u); }
  bool on_double(double d, json::string_view, error_code&) { return scalar(d); }
  bool on_bool(bool b, error_code&) { return scalar(b); }
  bool on_null(error_code&) { return scalar(nullptr); }
  // Comments are refused by the default options, as by JsonArena's parser.
  bool on_comment_part(json::string_view, error_code&) { return true; }
  bool on_comment(json::string_view, error_code&) { return true; }

 private:
  struct Frame {
    const EventProjection* projection;  // of the values inside; nullptr: none is kept
    json::object* object;               // the kept object being filled, or nullptr
    json::array* array;                 // the kept array being filled, or nullptr
  };

  // Where the value that starts now goes, and the projection it is read with; nullptr when it
  // is not kept.
  json::value* begin(const EventProjection*& p) {
    if (stack_.empty()) {
      p = projection_;
      return &*root_;
    }
    const Frame& f = stack_.back();
    if (f.array) {
      p = f.projection;  // an element is read as its array is
      return &f.array->emplace_back(nullptr);
    }
    p = f.object ? keyProjection_ : nullptr;
    return f.object ? keySlot_ : nullptr;
  }

  template <class T>
  bool scalar(T v) {
    const EventProjection* p = nullptr;
    if (json::value* slot = begin(p)) {
      if (p->keepsScalars()) {
        *slot = v;
      } else {
        *slot = nullptr;  // a nested pattern sees any scalar as an absent object
      }
    }
    return true;
  }

  void stringPart(json::string_view s) {
    if (!inString_) {
      inString_ = true;
      const EventProjection* p = nullptr;
      stringSlot_ = begin(p);
      keepString_ = stringSlot_ && p->keepsScalars();
      if (keepString_) stringSlot_->emplace_string();
    }
    if (keepString_) stringSlot_->get_string().append(s);
  }

  const EventProjection* projection_ = nullptr;
  std::optional<json::value> root_;
  std::vector<Frame> stack_;
  std::string key_;  // a key's parts so far
  const EventProjection* keyProjection_ = nullptr;
  json::value* keySlot_ = nullptr;
  bool inString_ = false;
  bool keepString_ = false;
  json::value* stringSlot_ = nullptr;
};

}  // namespace

struct EventReader::State {
  State() : arena(buffer, sizeof buffer), parser(json::parse_options{}) {}
  // Most projected events fit the first block (see JsonArena for why it is a buffer).
  unsigned char buffer[4096];
  json::monotonic_resource arena;
  json::basic_parser<Projector> parser;
  std::optional<json::value> value;
  JsonArena whole;  // when the projection keeps everything
};

EventReader::EventReader() : state_(std::make_unique<State>()) {}
EventReader::~EventReader() = default;

Result<const json::value*> EventReader::read(const EventProjection& projection,
                                             std::string_view text) {
  State& s = *state_;
  if (projection.keepsEverything()) return s.whole.parse(text);
  Projector& h = s.parser.handler();
  s.value.reset();  // its nodes live in the arena: nothing to free one by one
  h.clear();
  s.arena.release();
  s.parser.reset();
  h.start(projection, json::storage_ptr(&s.arena));
  error_code ec;
  // As json::parser::write: the whole text is one document, anything after it is an error.
  size_t n = s.parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && n < text.size()) ec = json::error::extra_data;
  if (ec) return Status::invalidArgument("not valid JSON: " + ec.message());
  s.value.emplace(std::move(h.root()));
  return &*s.value;
}

}  // namespace memberflow
