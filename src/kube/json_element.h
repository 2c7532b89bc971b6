#pragma once

// Read-only access to objects parsed by simdjson, the parser of the list/watch ingestion path
// (chosen by measurement: docs/benchmarks.md). An element points into its parser's buffer and
// is valid until that parser parses again, so projections copy out what they keep.
//
//   std::string_view name = StringAt(object, {"metadata", "name"});

#include <simdjson.h>

#include <initializer_list>
#include <string>
#include <string_view>

namespace gpuop::kube {

using JsonElement = simdjson::dom::element;

// The element at `path` (a chain of object keys), if every step exists.
bool ElementAt(JsonElement from, std::initializer_list<std::string_view> path, JsonElement& out);
// The string at `path`, or empty when a step is missing or the value is not a string.
std::string_view StringAt(JsonElement from, std::initializer_list<std::string_view> path);

// object.metadata.resourceVersion, or empty.
std::string ResourceVersionOf(JsonElement object);
// "namespace/name" for namespaced objects, "name" otherwise, as client-go's
// MetaNamespaceKeyFunc.
std::string ObjectKey(JsonElement object);

}  // namespace gpuop::kube
