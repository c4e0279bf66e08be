// RuleSet: many named event patterns behind one index (event_pattern.h). A rule is indexed
// under its rarest anchor, an event probes the index with the values it holds at the indexed
// paths, and only the rules found there (and those without anchors) are matched.
#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <map>
#include <tuple>
#include <unordered_map>

#include "domain/event_pattern.h"

namespace memberflow {

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

// Calls visit(string_view) for each string found at path, arrays flattened at every level.
template <class Visit>
void valuesAt(const json::value& v, const std::vector<std::string>& path, size_t i,
              const Visit& visit) {
  if (v.is_array()) {
    for (const auto& e : v.get_array()) valuesAt(e, path, i, visit);
    return;
  }
  if (i == path.size()) {
    if (v.is_string()) visit(std::string_view(v.get_string()));
    return;
  }
  if (!v.is_object()) return;
  if (const json::value* next = field(v.get_object(), path[i])) {
    valuesAt(*next, path, i + 1, visit);
  }
}

// The index as compile() gathers it, before it is packed into HitMaps: key -> rules, in order.
using HitLists = std::map<std::string, std::vector<uint32_t>, std::less<>>;

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
  hitPool_.clear();
  std::unordered_map<std::string, size_t> shared;  // anchor key -> rules using it
  for (const auto& r : rules_) {
    for (const auto& a : r.anchors) {
      for (const auto& v : a.values) ++shared[anchorKey(a.path, a.prefix, v)];
    }
  }
  struct Gathered {
    HitLists exact, prefix;
  };
  std::vector<Gathered> gathered;  // beside index_
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
      gathered.emplace_back();
      it = index_.end() - 1;
    }
    Gathered& g = gathered[static_cast<size_t>(it - index_.begin())];
    for (const auto& v : best->values) {
      auto& rules = (best->prefix ? g.prefix : g.exact)[v];
      if (rules.empty() || rules.back() != i) rules.push_back(i);  // a value listed twice
      if (best->prefix) {
        auto& lengths = it->prefixLengths;
        auto at = std::lower_bound(lengths.begin(), lengths.end(), v.size());
        if (at == lengths.end() || *at != v.size()) lengths.insert(at, v.size());
      }
    }
  }
  auto pack = [&](const HitLists& lists, HitMap& into) {
    into.reserve(lists.size());
    for (const auto& [key, rules] : lists) {
      Hits h{rules.front(), 1};
      if (rules.size() > 1) {
        h = {static_cast<uint32_t>(hitPool_.size()), static_cast<uint32_t>(rules.size())};
        hitPool_.insert(hitPool_.end(), rules.begin(), rules.end());
      }
      into.emplace(key, h);
    }
  };
  for (size_t k = 0; k < index_.size(); ++k) {
    pack(gathered[k].exact, index_[k].exact);
    pack(gathered[k].prefix, index_[k].prefix);
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
  // On the stack for the usual few candidates: no allocation per event.
  boost::container::small_vector<uint32_t, 32> candidates(unindexed_.begin(), unindexed_.end());
  auto take = [&](const Hits& h) {
    if (h.count == 1) {
      candidates.push_back(h.first);
    } else {
      candidates.insert(candidates.end(), hitPool_.begin() + h.first,
                        hitPool_.begin() + h.first + h.count);
    }
  };
  for (const auto& pi : index_) {
    valuesAt(event, pi.path, 0, [&](std::string_view v) {
      if (auto it = pi.exact.find(v); it != pi.exact.end()) take(it->second);
      // Only the lengths some rule's prefix has: a lookup at any other cannot hit.
      for (size_t len : pi.prefixLengths) {
        if (len > v.size()) break;
        if (auto it = pi.prefix.find(v.substr(0, len)); it != pi.prefix.end()) take(it->second);
      }
    });
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  out.reserve(candidates.size());
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
