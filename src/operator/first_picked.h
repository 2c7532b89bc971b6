#pragma once

// The first key, in an ordered map's order, of the entries a test picks, kept as entries change
// without keeping a second index: the map is scanned, from the key that left, only when the
// first stops being picked. The node label controller keeps two over its thousands of counted
// nodes (the first GPU node with an OS tag, the first container GPU node).
//
//   FirstPicked<std::map<std::string, Entry>> first([](const Entry& e) { return e.gpu; });
//   entries[name].gpu = true;
//   first.Update(entries, name);  // after each change of entries[name], or its erase
//   first.First();                // the least name whose entry has gpu, if any

#include <optional>

namespace gpuop::op {

template <typename Map>
class FirstPicked {
 public:
  using Key = typename Map::key_type;
  using Picks = bool (*)(const typename Map::mapped_type&);

  explicit FirstPicked(Picks picks) : picks_(picks) {}

  // After `key`'s entry in `map` changed, came or was erased. Every change must be told, for
  // the first to stay the least picked key.
  void Update(const Map& map, const Key& key) {
    const auto entry = map.find(key);
    if (entry != map.end() && picks_(entry->second)) {
      if (!first_ || key < *first_) first_ = key;
      return;
    }
    if (first_ != key) return;
    // The first is no longer picked; none before it was, so the next is after it.
    first_.reset();
    for (auto it = map.upper_bound(key); it != map.end(); ++it) {
      if (picks_(it->second)) {
        first_ = it->first;
        return;
      }
    }
  }

  const std::optional<Key>& First() const { return first_; }

 private:
  Picks picks_;
  std::optional<Key> first_;
};

}  // namespace gpuop::op
