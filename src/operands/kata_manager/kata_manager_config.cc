#include "operands/kata_manager/kata_manager_config.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "kube/manifest.h"

namespace gpuop::operands {
namespace {

using nlohmann::json;

// A RuntimeClass handler must be a DNS label (it is also a directory name here).
bool IsDnsLabel(const std::string& name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  for (char c : name) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-') {
      return false;
    }
  }
  return true;
}

std::string StringAt(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string()
             ? object[key].get<std::string>()
             : std::string();
}

}  // namespace

absl::StatusOr<KataManagerConfig> ParseKataManagerConfig(const std::string& yaml) {
  absl::StatusOr<std::vector<json>> documents = kube::ParseManifests(yaml);
  if (!documents.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kata manager config: ", documents.status().message()));
  }
  KataManagerConfig config;
  if (documents->empty()) return config;
  const json& root = documents->front();
  if (!root.is_object()) return absl::InvalidArgumentError("kata manager config: not a mapping");
  if (root.contains("artifactsDir")) {
    config.artifacts_dir = StringAt(root, "artifactsDir");
    if (config.artifacts_dir.empty() || config.artifacts_dir.front() != '/') {
      return absl::InvalidArgumentError(
          "kata manager config: artifactsDir must be an absolute path");
    }
  }
  if (!root.contains("runtimeClasses") || root["runtimeClasses"].is_null()) return config;
  if (!root["runtimeClasses"].is_array()) {
    return absl::InvalidArgumentError("kata manager config: runtimeClasses must be a list");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < root["runtimeClasses"].size(); ++i) {
    const json& entry = root["runtimeClasses"][i];
    const std::string where = absl::StrCat("kata manager config: runtimeClasses[", i, "]");
    RuntimeClassArtifacts runtime_class;
    runtime_class.name = StringAt(entry, "name");
    if (!IsDnsLabel(runtime_class.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".name \"", runtime_class.name,
                       "\" is not a RuntimeClass handler name (lower-case letters, digits, '-')"));
    }
    if (!names.insert(runtime_class.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".name \"", runtime_class.name, "\" appears twice"));
    }
    if (entry.contains("nodeSelector") && !entry["nodeSelector"].is_null()) {
      if (!entry["nodeSelector"].is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ".nodeSelector must be a mapping"));
      }
      for (const auto& item : entry["nodeSelector"].items()) {
        if (!item.value().is_string()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ".nodeSelector[\"", item.key(), "\"] must be a string"));
        }
        runtime_class.node_selector[item.key()] = item.value().get<std::string>();
      }
    }
    const json artifacts =
        entry.is_object() && entry.contains("artifacts") ? entry["artifacts"] : json();
    runtime_class.url = StringAt(artifacts, "url");
    if (runtime_class.url.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".artifacts.url is required"));
    }
    absl::StatusOr<oci::Reference> reference = oci::ParseReference(runtime_class.url);
    if (!reference.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".artifacts.url: ", reference.status().message()));
    }
    runtime_class.artifacts = *std::move(reference);
    runtime_class.pull_secret = StringAt(artifacts, "pullSecret");
    config.runtime_classes.push_back(std::move(runtime_class));
  }
  return config;
}

bool SelectorMatches(const std::map<std::string, std::string>& selector,
                     const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : selector) {
    const auto found = labels.find(key);
    if (found == labels.end() || found->second != value) return false;
  }
  return true;
}

}  // namespace gpuop::operands
