#include "kube/label_set.h"

#include <algorithm>

namespace gpuop::kube {

CommonLabelKeys::CommonLabelKeys(std::vector<std::string> keys) : keys_(std::move(keys)) {
  if (keys_.size() > 128) keys_.resize(128);  // One byte holds no more; the rest stay text.
}

std::optional<char> CommonLabelKeys::CodeOf(std::string_view key) const {
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == key) return static_cast<char>(0x80 | i);
  }
  return std::nullopt;
}

LabelSet LabelSet::FromJson(const nlohmann::json& labels) {
  LabelSet set;
  if (!labels.is_object()) return set;
  size_t bytes = 0;
  for (const auto& [key, value] : labels.items()) {
    if (value.is_string()) bytes += key.size() + value.get_ref<const std::string&>().size() + 2;
  }
  set.data_.reserve(bytes);
  // nlohmann::json keeps object keys sorted, so the pairs come out in key order.
  for (const auto& [key, value] : labels.items()) {
    if (!value.is_string()) continue;
    set.data_.append(key).push_back('\0');
    set.data_.append(value.get_ref<const std::string&>()).push_back('\0');
  }
  return set;
}

LabelSet LabelSet::FromElement(JsonElement labels) { return FromPairs(PairsOf(labels)); }

std::vector<std::pair<std::string_view, std::string_view>> LabelSet::PairsOf(JsonElement labels) {
  simdjson::dom::object object;
  if (labels.get(object) != simdjson::SUCCESS) return {};
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  pairs.reserve(object.size());
  for (const auto field : object) {
    std::string_view value;
    if (field.value.get(value) == simdjson::SUCCESS) pairs.emplace_back(field.key, value);
  }
  return pairs;
}

LabelSet LabelSet::FromPairs(std::vector<std::pair<std::string_view, std::string_view>> pairs,
                             const CommonLabelKeys* common) {
  std::sort(pairs.begin(), pairs.end());
  LabelSet set;
  set.common_ = common;
  std::vector<std::optional<char>> codes(pairs.size());
  size_t bytes = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& [key, value] = pairs[i];
    if (common != nullptr) codes[i] = common->CodeOf(key);
    bytes += (codes[i] ? 1 : key.size()) + value.size() + 2;
  }
  set.data_.reserve(bytes);
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& [key, value] = pairs[i];
    if (codes[i]) {
      set.data_.push_back(*codes[i]);
    } else if (common != nullptr && key.size() == 1 && CommonLabelKeys::IsCode(key[0])) {
      continue;
    } else {
      set.data_.append(key);
    }
    set.data_.push_back('\0');
    set.data_.append(value).push_back('\0');
  }
  return set;
}

bool LabelSet::Walk(
    const std::function<bool(std::string_view key, std::string_view value)>& visit) const {
  const std::string_view data = data_;
  size_t at = 0;
  while (at < data.size()) {
    const size_t key_end = data.find('\0', at);
    const size_t value_end = data.find('\0', key_end + 1);
    const std::string_view key =
        common_ != nullptr && key_end == at + 1 && CommonLabelKeys::IsCode(data[at])
            ? common_->KeyOf(data[at])
            : data.substr(at, key_end - at);
    if (!visit(key, data.substr(key_end + 1, value_end - key_end - 1))) {
      return false;
    }
    at = value_end + 1;
  }
  return true;
}

void LabelSet::ForEach(
    const std::function<void(std::string_view key, std::string_view value)>& fn) const {
  Walk([&](std::string_view key, std::string_view value) {
    fn(key, value);
    return true;
  });
}

std::optional<std::string_view> LabelSet::Get(std::string_view key) const {
  std::optional<std::string_view> found;
  Walk([&](std::string_view k, std::string_view value) {
    if (k == key) found = value;
    return !found.has_value();
  });
  return found;
}

size_t LabelSet::Size() const {
  size_t nuls = 0;
  for (const char c : data_) nuls += c == '\0';
  return nuls / 2;
}

}  // namespace gpuop::kube
