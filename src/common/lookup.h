// File: lookup.h
// The answer of a batched lookup (a ledger's or a parking store's getMany/state) in the order
// the keys were asked: what a batch read found, keyed, turned into one optional per key.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace memberflow {

// One entry per key of `keys`, in their order: the value found for it, or nullopt. A key asked
// twice gets the value twice.
template <class T>
std::vector<std::optional<T>> inKeyOrder(const std::vector<std::string>& keys,
                                         const std::unordered_map<std::string, T>& found) {
  std::vector<std::optional<T>> out;
  out.reserve(keys.size());
  for (const auto& k : keys) {
    auto it = found.find(k);
    out.push_back(it == found.end() ? std::nullopt : std::optional<T>(it->second));
  }
  return out;
}

}  // namespace memberflow
