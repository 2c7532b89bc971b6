#include "kube/manifest.h"

#include <cmath>
#include <cstdlib>
#include <regex>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include <yaml-cpp/yaml.h>

namespace gpuop::kube {
namespace {

using nlohmann::json;

// Deep enough for any manifest; bounds recursion on hostile input.
constexpr int kMaxDepth = 64;

bool IsNull(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// A plain scalar's value under the YAML 1.2 core schema.
json PlainScalar(const std::string& s) {
  if (IsNull(s)) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex int_pattern("[-+]?[0-9]+");
  static const std::regex float_pattern(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (std::regex_match(s, int_pattern)) {
    int64_t value = 0;
    if (absl::SimpleAtoi(s, &value)) return value;
    return s;  // Out of range for an API integer: keep the text, the API will say.
  }
  if (std::regex_match(s, float_pattern)) {
    double value = 0;
    if (absl::SimpleAtod(s, &value) && std::isfinite(value)) return value;
  }
  return s;
}

absl::StatusOr<json> ToJson(const YAML::Node& node, int depth) {
  if (depth > kMaxDepth) return absl::InvalidArgumentError("nested deeper than 64 levels");
  const std::string& tag = node.Tag();
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar: {
      // "!" marks a quoted (non-plain) scalar; "?" a plain one; anything else an explicit tag.
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return node.Scalar();
      if (tag == "?" || tag.empty()) return PlainScalar(node.Scalar());
      const json value = PlainScalar(node.Scalar());
      if (tag == "tag:yaml.org,2002:int" && value.is_number_integer()) return value;
      if (tag == "tag:yaml.org,2002:bool" && value.is_boolean()) return value;
      if (tag == "tag:yaml.org,2002:null" && value.is_null()) return value;
      if (tag == "tag:yaml.org,2002:float" && value.is_number()) return value;
      return absl::InvalidArgumentError(absl::StrCat("line ", node.Mark().line + 1, ": tag ", tag,
                                                     " on \"", node.Scalar().substr(0, 40),
                                                     "\" is not supported"));
    }
    case YAML::NodeType::Sequence: {
      json array = json::array();
      for (const YAML::Node& item : node) {
        absl::StatusOr<json> value = ToJson(item, depth + 1);
        if (!value.ok()) return value.status();
        array.push_back(*std::move(value));
      }
      return array;
    }
    case YAML::NodeType::Map: {
      json object = json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          return absl::InvalidArgumentError(absl::StrCat("line ", entry.first.Mark().line + 1,
                                                         ": a mapping key is not a scalar"));
        }
        const std::string& key = entry.first.Scalar();
        if (object.contains(key)) {
          return absl::InvalidArgumentError(
              absl::StrCat("line ", entry.first.Mark().line + 1, ": key \"", key, "\" repeated"));
        }
        absl::StatusOr<json> value = ToJson(entry.second, depth + 1);
        if (!value.ok()) return value.status();
        object[key] = *std::move(value);
      }
      return object;
    }
  }
  return absl::InternalError("unknown YAML node type");
}

}  // namespace

absl::StatusOr<std::vector<json>> ParseManifests(std::string_view yaml) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("YAML: line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  }
  std::vector<json> objects;
  for (size_t i = 0; i < documents.size(); ++i) {
    absl::StatusOr<json> object;
    try {
      object = ToJson(documents[i], 0);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("YAML document ", i + 1, ": ", e.msg));
    }
    if (!object.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("YAML document ", i + 1, ": ", object.status().message()));
    }
    if (object->is_null()) continue;  // "---" with nothing after it, or only comments.
    if (!object->is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("YAML document ", i + 1, " is not a mapping (a Kubernetes object)"));
    }
    objects.push_back(*std::move(object));
  }
  return objects;
}

}  // namespace gpuop::kube
