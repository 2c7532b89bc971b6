#pragma once

// An object's labels in a single allocation: sorted "key\0value\0" pairs. Informers keep one
// per cached Node, for thousands of Nodes that carry dozens of NFD labels each; a
// std::map<std::string, std::string> would cost about 100 bytes of bookkeeping per label on top
// of the text, this costs the text and one string header. Lookups scan, which for the few
// dozen labels of a Node is as fast as a tree.
//
//   JsonElement labels;
//   if (ElementAt(object, {"metadata", "labels"}, labels)) node.labels =
//   LabelSet::FromElement(labels); if (labels.Get("nvidia.com/gpu.present") == "true") ...

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/json_element.h"

namespace gpuop::kube {

class LabelSet {
 public:
  LabelSet() = default;
  // From a labels object ({"key": "value", ...}); non-string values are skipped (the API never
  // sends them). Anything but an object gives an empty set.
  static LabelSet FromJson(const nlohmann::json& labels);
  // The same from a simdjson element (the informers' parser).
  static LabelSet FromElement(JsonElement labels);
  // The string pairs of a labels element, in the element's order, viewing its text: for a
  // projection that keeps some of them (FromPairs). Valid while the element is.
  static std::vector<std::pair<std::string_view, std::string_view>> PairsOf(JsonElement labels);
  // From key/value pairs in any order (sorted here); for parsers other than nlohmann.
  static LabelSet FromPairs(std::vector<std::pair<std::string_view, std::string_view>> pairs);

  std::optional<std::string_view> Get(std::string_view key) const;
  bool Contains(std::string_view key) const { return Get(key).has_value(); }
  size_t Size() const;
  bool Empty() const { return data_.empty(); }
  void ForEach(const std::function<void(std::string_view key, std::string_view value)>& fn) const;
  // Heap bytes held (the allocation behind the text).
  size_t HeapBytes() const { return data_.capacity() > 15 ? data_.capacity() + 1 : 0; }

  bool operator==(const LabelSet&) const = default;

 private:
  // Calls visit for each pair in key order until it returns false; false if it did.
  bool Walk(const std::function<bool(std::string_view key, std::string_view value)>& visit) const;

  std::string data_;
};

}  // namespace gpuop::kube
