// EventBridge event patterns: the compiled form and the matcher. EventPattern::parse checks a
// pattern into a tree (event_pattern_tree.cc) and lays the tree out here as one block per
// pattern: its nodes, leaves, child links, conditions and strings side by side in one
// allocation, linked by offsets. A rule set of 10,000 patterns takes megabytes, so a candidate
// rule is mostly not in cache when an event reaches it; the tree's pieces were ~11 separate
// allocations per rule (one cache miss each, one after the other), the block is a few
// neighbouring cache lines.
#include "domain/event_pattern.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

#include "domain/event_pattern_tree.h"

namespace memberflow {
namespace {

using pattern::Condition;

// ---- the block ---------------------------------------------------------------------------

struct FlatNode {
  uint32_t leafFirst, leafCount, childFirst, childCount, orFirst, orCount;
};
struct FlatLeaf {
  uint32_t field, fieldLength, condFirst, condCount;
};
struct FlatChild {
  uint32_t field, fieldLength, node;
};

// The common conditions, tested without leaving the block; kOther hands the value to a
// Condition kept in the block's tail (wildcards, lists of anything-but values, cidr).
enum class Op : uint8_t {
  kString,
  kNumber,
  kBool,
  kNull,
  kPrefix,
  kPrefixIC,
  kSuffix,
  kSuffixIC,
  kEqualsIC,
  kAnythingButString,
  kAnythingButNumber,
  kAnythingButPrefix,
  kAnythingButSuffix,
  kNumeric,
  kExists,
  kOther,
};

struct FlatCondition {
  Op op = Op::kNull;
  bool flag = false;  // kBool's value, kExists' operand
  bool hasLower = false, lowerInclusive = false, hasUpper = false, upperInclusive = false;
  uint32_t text = 0, length = 0;  // the string operand; for kOther, the Condition's index
  double lower = 0, upper = 0;    // kNumber, kAnythingButNumber: lower; kNumeric: the bounds
};

size_t alignUp(size_t n) {
  constexpr size_t kAlign = alignof(std::max_align_t);
  return (n + kAlign - 1) & ~(kAlign - 1);
}

}  // namespace

// The block's head; the arrays follow at these byte offsets from it.
struct EventPattern::Program {
  uint32_t nodes = 0, leaves = 0, children = 0, ors = 0, conditions = 0, others = 0, text = 0;
  uint32_t otherCount = 0;

  template <class T>
  const T* at(uint32_t offset) const {
    return reinterpret_cast<const T*>(reinterpret_cast<const std::byte*>(this) + offset);
  }
};

void EventPattern::ProgramDeleter::operator()(Program* p) const noexcept {
  auto* others = const_cast<Condition*>(p->at<Condition>(p->others));
  std::destroy_n(others, p->otherCount);
  p->~Program();
  delete[] reinterpret_cast<std::byte*>(p);
}

namespace {

// ---- compiling the tree into a block -------------------------------------------------------

class Flattener {
 public:
  std::unique_ptr<EventPattern::Program, EventPattern::ProgramDeleter> run(pattern::Node& root) {
    nodes_.emplace_back();
    add(root, 0);
    return pack();
  }

 private:
  uint32_t text(std::string_view s) {
    auto at = static_cast<uint32_t>(text_.size());
    text_.append(s);
    return at;
  }

  FlatCondition condition(Condition& c) {
    using K = Condition::Kind;
    FlatCondition f;
    auto withText = [&](Op op, std::string_view s) {
      f.op = op;
      f.text = text(s);
      f.length = static_cast<uint32_t>(s.size());
    };
    switch (c.kind) {
      case K::kString: withText(Op::kString, c.s); return f;
      case K::kPrefix: withText(Op::kPrefix, c.s); return f;
      case K::kPrefixIC: withText(Op::kPrefixIC, c.s); return f;
      case K::kSuffix: withText(Op::kSuffix, c.s); return f;
      case K::kSuffixIC: withText(Op::kSuffixIC, c.s); return f;
      case K::kEqualsIC: withText(Op::kEqualsIC, c.s); return f;
      case K::kNumber:
        f.op = Op::kNumber;
        f.lower = c.num;
        return f;
      case K::kBool:
        f.op = Op::kBool;
        f.flag = c.flag;
        return f;
      case K::kNull: f.op = Op::kNull; return f;
      case K::kExists:
        f.op = Op::kExists;
        f.flag = c.flag;
        return f;
      case K::kNumeric:
        f.op = Op::kNumeric;
        f.hasLower = c.lowerBound.has_value();
        f.lower = c.lowerBound.value_or(0);
        f.lowerInclusive = c.lowerInclusive;
        f.hasUpper = c.upperBound.has_value();
        f.upper = c.upperBound.value_or(0);
        f.upperInclusive = c.upperInclusive;
        return f;
      case K::kAnythingBut:
        if (c.strings.size() == 1 && c.numbers.empty()) {
          withText(Op::kAnythingButString, c.strings.front());
          return f;
        }
        if (c.numbers.size() == 1 && c.strings.empty()) {
          f.op = Op::kAnythingButNumber;
          f.lower = c.numbers.front();
          return f;
        }
        break;
      case K::kAnythingButPrefix:
      case K::kAnythingButSuffix:
        if (c.strings.size() == 1) {
          withText(
              c.kind == K::kAnythingButPrefix ? Op::kAnythingButPrefix : Op::kAnythingButSuffix,
              c.strings.front());
          return f;
        }
        break;
      default: break;
    }
    f.op = Op::kOther;
    f.text = static_cast<uint32_t>(others_.size());
    others_.push_back(std::move(c));
    return f;
  }

  // Fills nodes_[index] from n; its leaves, children and alternatives sit next to each other.
  void add(pattern::Node& n, uint32_t index) {
    FlatNode flat{};
    flat.leafFirst = static_cast<uint32_t>(leaves_.size());
    flat.leafCount = static_cast<uint32_t>(n.leaves.size());
    for (auto& leaf : n.leaves) {
      FlatLeaf l{text(leaf.field), static_cast<uint32_t>(leaf.field.size()),
                 static_cast<uint32_t>(conditions_.size()),
                 static_cast<uint32_t>(leaf.anyOf.size())};
      leaves_.push_back(l);
      for (auto& c : leaf.anyOf) conditions_.push_back(condition(c));
    }
    flat.childFirst = static_cast<uint32_t>(children_.size());
    flat.childCount = static_cast<uint32_t>(n.children.size());
    for (auto& [name, child] : n.children) {
      children_.push_back({text(name), static_cast<uint32_t>(name.size()), newNode()});
    }
    flat.orFirst = static_cast<uint32_t>(ors_.size());
    flat.orCount = static_cast<uint32_t>(n.ors.size());
    for (size_t i = 0; i < n.ors.size(); ++i) ors_.push_back(newNode());
    nodes_[index] = flat;
    for (size_t i = 0; i < n.children.size(); ++i) {
      add(*n.children[i].second, children_[flat.childFirst + i].node);
    }
    for (size_t i = 0; i < n.ors.size(); ++i) add(*n.ors[i], ors_[flat.orFirst + i]);
  }

  uint32_t newNode() {
    nodes_.emplace_back();
    return static_cast<uint32_t>(nodes_.size() - 1);
  }

  std::unique_ptr<EventPattern::Program, EventPattern::ProgramDeleter> pack() {
    EventPattern::Program head;
    size_t size = alignUp(sizeof head);
    auto place = [&](uint32_t& offset, size_t bytes) {
      offset = static_cast<uint32_t>(size);
      size = alignUp(size + bytes);
    };
    place(head.nodes, nodes_.size() * sizeof(FlatNode));
    place(head.leaves, leaves_.size() * sizeof(FlatLeaf));
    place(head.children, children_.size() * sizeof(FlatChild));
    place(head.ors, ors_.size() * sizeof(uint32_t));
    place(head.conditions, conditions_.size() * sizeof(FlatCondition));
    place(head.others, others_.size() * sizeof(Condition));
    place(head.text, text_.size());
    head.otherCount = static_cast<uint32_t>(others_.size());
    // operator new[] aligns for any fundamental type: every offset is a multiple of that too.
    auto* block = new std::byte[size];
    auto* p = new (block) EventPattern::Program(head);
    auto copy = [&](const auto& v, uint32_t offset) {
      using T = typename std::decay_t<decltype(v)>::value_type;
      std::uninitialized_copy(v.begin(), v.end(), reinterpret_cast<T*>(block + offset));
    };
    copy(nodes_, head.nodes);
    copy(leaves_, head.leaves);
    copy(children_, head.children);
    copy(ors_, head.ors);
    copy(conditions_, head.conditions);
    std::uninitialized_move(others_.begin(), others_.end(),
                            reinterpret_cast<Condition*>(block + head.others));
    std::memcpy(block + head.text, text_.data(), text_.size());
    return std::unique_ptr<EventPattern::Program, EventPattern::ProgramDeleter>(p);
  }

  std::vector<FlatNode> nodes_;
  std::vector<FlatLeaf> leaves_;
  std::vector<FlatChild> children_;
  std::vector<uint32_t> ors_;
  std::vector<FlatCondition> conditions_;
  std::vector<Condition> others_;
  std::string text_;
};

// ---- matching ----------------------------------------------------------------------------

// The block's arrays, located once per match.
struct View {
  explicit View(const EventPattern::Program& p)
      : nodes(p.at<FlatNode>(p.nodes)),
        leaves(p.at<FlatLeaf>(p.leaves)),
        children(p.at<FlatChild>(p.children)),
        ors(p.at<uint32_t>(p.ors)),
        conditions(p.at<FlatCondition>(p.conditions)),
        others(p.at<Condition>(p.others)),
        text(p.at<char>(p.text)) {}

  std::string_view string(uint32_t at, uint32_t length) const { return {text + at, length}; }

  const FlatNode* nodes;
  const FlatLeaf* leaves;
  const FlatChild* children;
  const uint32_t* ors;
  const FlatCondition* conditions;
  const Condition* others;
  const char* text;
};

bool conditionMatches(const View& view, const FlatCondition& c, const json::value& v) {
  const bool isStr = v.is_string();
  std::string_view str = isStr ? std::string_view(v.get_string()) : std::string_view();
  // kOther's `text` indexes the block's Conditions, not its text: no string is formed of it.
  const std::string_view s =
      c.op == Op::kOther ? std::string_view() : view.string(c.text, c.length);
  switch (c.op) {
    case Op::kString: return isStr && str == s;
    case Op::kNumber: {
      auto n = pattern::number(v);
      return n && *n == c.lower;
    }
    case Op::kBool: return v.is_bool() && v.get_bool() == c.flag;
    case Op::kNull: return v.is_null();
    case Op::kPrefix: return isStr && str.substr(0, s.size()) == s;
    case Op::kPrefixIC:
      return isStr && str.size() >= s.size() && pattern::equalsLowered(str.substr(0, s.size()), s);
    case Op::kSuffix:
      return isStr && str.size() >= s.size() && str.substr(str.size() - s.size()) == s;
    case Op::kSuffixIC:
      return isStr && str.size() >= s.size() &&
             pattern::equalsLowered(str.substr(str.size() - s.size()), s);
    case Op::kEqualsIC: return isStr && pattern::equalsLowered(str, s);
    // A value of another type than the excluded one is not excluded (as Condition::matches).
    case Op::kAnythingButString: return !isStr || str != s;
    case Op::kAnythingButNumber: {
      if (isStr) return true;
      auto n = pattern::number(v);
      return !n || *n != c.lower;
    }
    case Op::kAnythingButPrefix: return !isStr || str.substr(0, s.size()) != s;
    case Op::kAnythingButSuffix:
      return !isStr || str.size() < s.size() || str.substr(str.size() - s.size()) != s;
    case Op::kNumeric: {
      auto n = pattern::number(v);
      if (!n) return false;
      if (c.hasLower && (c.lowerInclusive ? *n < c.lower : *n <= c.lower)) return false;
      if (c.hasUpper && (c.upperInclusive ? *n > c.upper : *n >= c.upper)) return false;
      return true;
    }
    case Op::kExists: return false;  // decided on the field, not on a value
    case Op::kOther: return view.others[c.text].matches(v);
  }
  return false;
}

void leafValues(const json::value& v, std::vector<const json::value*>& out) {
  if (v.is_array()) {
    for (const auto& e : v.get_array()) leafValues(e, out);
  } else if (!v.is_object()) {
    out.push_back(&v);
  }
}

bool leafMatches(const View& view, const FlatLeaf& leaf, const json::value* v) {
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
  const FlatCondition* c = view.conditions + leaf.condFirst;
  for (const FlatCondition* end = c + leaf.condCount; c != end; ++c) {
    if (c->op == Op::kExists) {
      if (c->flag == (count != 0)) return true;
      continue;
    }
    for (size_t i = 0; i < count; ++i) {
      if (conditionMatches(view, *c, *values[i])) return true;
    }
  }
  return false;
}

bool matchNode(const View& view, uint32_t node, const json::value* ev) {
  if (ev && ev->is_array()) {
    // Array-consistent: one element must satisfy the whole object pattern.
    const auto& a = ev->get_array();
    if (a.empty()) return matchNode(view, node, nullptr);
    for (const auto& e : a) {
      if (matchNode(view, node, &e)) return true;
    }
    return false;
  }
  const FlatNode& n = view.nodes[node];
  const json::object* obj = ev && ev->is_object() ? &ev->get_object() : nullptr;
  for (uint32_t i = n.leafFirst; i < n.leafFirst + n.leafCount; ++i) {
    const FlatLeaf& leaf = view.leaves[i];
    const json::value* v = obj ? field(*obj, view.string(leaf.field, leaf.fieldLength)) : nullptr;
    if (!leafMatches(view, leaf, v)) return false;
  }
  for (uint32_t i = n.childFirst; i < n.childFirst + n.childCount; ++i) {
    const FlatChild& child = view.children[i];
    const json::value* v = obj ? field(*obj, view.string(child.field, child.fieldLength)) : nullptr;
    if (!matchNode(view, child.node, v)) return false;
  }
  for (uint32_t i = n.orFirst; i < n.orFirst + n.orCount; ++i) {
    if (matchNode(view, view.ors[i], ev)) return true;
  }
  return n.orCount == 0;
}

size_t conjunctions(const View& view, uint32_t node) {
  const FlatNode& n = view.nodes[node];
  size_t product = 1;
  for (uint32_t i = n.childFirst; i < n.childFirst + n.childCount; ++i) {
    product *= conjunctions(view, view.children[i].node);
  }
  if (n.orCount != 0) {
    size_t sum = 0;
    for (uint32_t i = n.orFirst; i < n.orFirst + n.orCount; ++i) {
      sum += conjunctions(view, view.ors[i]);
    }
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
  if (!pattern.is_object()) return pattern::bad("", "a pattern is a JSON object");
  std::unique_ptr<pattern::Node> tree;
  MF_ASSIGN_OR_RETURN(tree, pattern::parseTree(pattern.get_object()));
  EventPattern p;
  p.program_ = Flattener().run(*tree);
  return p;
}

Result<EventPattern> EventPattern::parse(std::string_view text) {
  auto v = parseJson(text);
  if (!v.isOk()) return pattern::bad("", "not JSON");
  return parse(*v);
}

bool EventPattern::matches(const json::value& event) const {
  return matchNode(View(*program_), 0, &event);
}

size_t EventPattern::conjunctionCount() const { return conjunctions(View(*program_), 0); }

}  // namespace memberflow
