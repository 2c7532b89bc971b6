#include "kube/json_element.h"

namespace gpuop::kube {

bool ElementAt(JsonElement from, std::initializer_list<std::string_view> path, JsonElement& out) {
  JsonElement at = from;
  for (const std::string_view key : path) {
    simdjson::dom::object object;
    if (at.get(object) != simdjson::SUCCESS) return false;
    if (object.at_key(key).get(at) != simdjson::SUCCESS) return false;
  }
  out = at;
  return true;
}

std::string_view StringAt(JsonElement from, std::initializer_list<std::string_view> path) {
  JsonElement at;
  std::string_view text;
  if (!ElementAt(from, path, at) || at.get(text) != simdjson::SUCCESS) return {};
  return text;
}

std::string ResourceVersionOf(JsonElement object) {
  return std::string(StringAt(object, {"metadata", "resourceVersion"}));
}

std::string ObjectKey(JsonElement object) {
  const std::string_view name = StringAt(object, {"metadata", "name"});
  const std::string_view ns = StringAt(object, {"metadata", "namespace"});
  if (ns.empty()) return std::string(name);
  std::string key;
  key.reserve(ns.size() + 1 + name.size());
  key.append(ns).push_back('/');
  key.append(name);
  return key;
}

}  // namespace gpuop::kube
