#pragma once

// Kubernetes manifests (YAML, one or more documents) as the JSON objects the API takes. YAML
// 1.2 core schema rules decide a plain scalar's type (true/false, null/~, integers, floats);
// a quoted scalar is always a string, so `"true"` stays the string a label value must be.
// Anchors and aliases are resolved by the parser; tags other than the standard ones are
// refused, as the API would refuse what they mean.
//
//   GPUOP_ASSIGN_OR_RETURN(std::vector<json> objects, ParseManifests(text));

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

namespace gpuop::kube {

// Every non-empty document of `yaml`, in order. InvalidArgument with the line and column of a
// syntax error, or naming the document that is not a mapping.
absl::StatusOr<std::vector<nlohmann::json>> ParseManifests(std::string_view yaml);

// The 1-based line of each mapping key and sequence item of a YAML document, by JSON pointer
// ("/sharing/timeSlicing/resources/0"): how a config checker names the line of a bad field.
using YamlLines = std::map<std::string, int>;

// A YAML config file (one document, of any shape; empty text is null), by the same rules as
// ParseManifests, with each field's line in `lines` when given. InvalidArgument with the line
// of a syntax error, or when the text holds more than one document.
absl::StatusOr<nlohmann::json> ParseYamlDocument(std::string_view yaml, YamlLines* lines = nullptr);

// `key` as a JSON pointer token: "~" becomes "~0" and "/" becomes "~1" (RFC 6901).
std::string PointerToken(std::string_view key);

}  // namespace gpuop::kube
