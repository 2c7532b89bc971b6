#pragma once

// Reading fields of nlohmann::json objects that came from outside (the API server, a proxy in
// front of it, a caller): json::value() throws when a field has another type than asked for, and
// an exception here would take a controller down over one odd object.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace gpuop::kube {

// object[key] when object is an object and that field is a string; otherwise empty.
inline std::string StringField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// object[key] when it is an integer; otherwise 0.
inline int64_t IntField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return 0;
  const auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// object[key] when it is an object; otherwise an empty object (never throws).
inline const nlohmann::json& ObjectField(const nlohmann::json& object, const char* key) {
  static const nlohmann::json empty = nlohmann::json::object();
  if (!object.is_object()) return empty;
  const auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : empty;
}

}  // namespace gpuop::kube
