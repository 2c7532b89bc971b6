#pragma once

// An object's labels in a single allocation: sorted "key\0value\0" pairs. Informers keep one
// per cached Node, for thousands of Nodes that carry dozens of NFD labels each; a
// std::map<std::string, std::string> would cost about 100 bytes of bookkeeping per label on top
// of the text, this costs the text and one string header. Lookups scan, which for the few
// dozen labels of a Node is as fast as a tree. A set built with CommonLabelKeys keeps each of
// those keys as one byte: the same dozen 30-40 byte keys on every GPU Node were most of the
// operator's node cache.
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

// Label keys that most sets of one cache carry, each stored as one byte in the sets built with
// it. At most 128 keys. Must outlive every set built with it (keep it in static storage).
class CommonLabelKeys {
 public:
  explicit CommonLabelKeys(std::vector<std::string> keys);

  std::optional<char> CodeOf(std::string_view key) const;
  // The key behind a byte that IsCode.
  std::string_view KeyOf(char code) const { return keys_[static_cast<unsigned char>(code) & 0x7f]; }
  // Codes are the bytes from 0x80 up, which no valid label key contains.
  static bool IsCode(char byte) { return (static_cast<unsigned char>(byte) & 0x80) != 0; }

 private:
  std::vector<std::string> keys_;
};

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
  // From key/value pairs in any order (sorted here); for parsers other than nlohmann. With
  // `common`, its keys are kept as one byte each; a key of a single byte from 0x80 up (which the
  // API refuses as a label key) is then left out, since it would read back as a common one.
  static LabelSet FromPairs(std::vector<std::pair<std::string_view, std::string_view>> pairs,
                            const CommonLabelKeys* common = nullptr);

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
  const CommonLabelKeys* common_ = nullptr;
};

}  // namespace gpuop::kube
