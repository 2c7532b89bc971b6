#pragma once

// Where a field of a YAML config file is, for the checkers of the configs an admin hands to
// NVIDIA's operands (device plugin, MIG manager): its JSON pointer, to find its line, and the
// dotted name an admin reads ("sharing.timeSlicing.resources[0].replicas").
//
//   const ConfigField root;
//   return root.Key("sharing").Key("mps").Error(lines, "is not a mapping");
//   // InvalidArgument "line 7: sharing.mps: is not a mapping"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include <nlohmann/json.hpp>

#include "common/printable.h"
#include "kube/manifest.h"

namespace gpuop::op {

struct ConfigField {
  std::string pointer;  // "" for the document itself.
  std::string name;     // "" for the document itself.

  ConfigField Key(std::string_view key) const {
    return {absl::StrCat(pointer, "/", kube::PointerToken(key)),
            name.empty() ? std::string(key) : absl::StrCat(name, ".", std::string(key))};
  }
  ConfigField Index(size_t index) const {
    return {absl::StrCat(pointer, "/", index), absl::StrCat(name, "[", index, "]")};
  }
  // InvalidArgument "line N: <name>: <why>"; the line is left out where the parse gave none (a
  // field that is missing, which is named through its parent's line).
  absl::Status Error(const kube::YamlLines& lines, std::string_view why) const {
    // A missing field has no line of its own: the nearest parent's is where to look.
    std::string at = pointer;
    while (!at.empty() && !lines.contains(at)) at = at.substr(0, at.rfind('/'));
    const auto line = lines.find(at);
    return absl::InvalidArgumentError(
        absl::StrCat(line == lines.end() ? "" : absl::StrCat("line ", line->second, ": "),
                     name.empty() ? "the document" : name, ": ", std::string(why)));
  }
};

// The value at `key` of a mapping; nullptr when it is absent or null (YAML's `key:` alone).
inline const nlohmann::json* FindConfigValue(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

// A value as an error shows it: a string quoted, anything else as JSON, cut at 80 characters.
inline std::string ShownConfigValue(const nlohmann::json& value) {
  if (value.is_string()) {
    return absl::StrCat("\"", common::Printable(value.get<std::string>(), 80), "\"");
  }
  // An admin's bytes need not be UTF-8: dump replaces them.
  return common::Printable(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                           80);
}

}  // namespace gpuop::op
