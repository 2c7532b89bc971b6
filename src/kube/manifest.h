#pragma once

// Kubernetes manifests (YAML, one or more documents) as the JSON objects the API takes. YAML
// 1.2 core schema rules decide a plain scalar's type (true/false, null/~, integers, floats);
// a quoted scalar is always a string, so `"true"` stays the string a label value must be.
// Anchors and aliases are resolved by the parser; tags other than the standard ones are
// refused, as the API would refuse what they mean.
//
//   GPUOP_ASSIGN_OR_RETURN(std::vector<json> objects, ParseManifests(text));

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

namespace gpuop::kube {

// Every non-empty document of `yaml`, in order. InvalidArgument with the line and column of a
// syntax error, or naming the document that is not a mapping.
absl::StatusOr<std::vector<nlohmann::json>> ParseManifests(std::string_view yaml);

}  // namespace gpuop::kube
