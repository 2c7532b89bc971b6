#include "operands/kata_manager/kata_manager_config.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "api/host_folders.h"
#include "api/names.h"
#include "kube/manifest.h"

namespace gpuop::operands {
namespace {

using nlohmann::json;

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
    const std::string dir = StringAt(root, "artifactsDir");
    if (std::optional<std::string> problem = api::ArtifactsDirProblem(dir)) {
      return absl::InvalidArgumentError(
          absl::StrCat("kata manager config: artifactsDir \"", dir, "\" ", *problem));
    }
    config.artifacts_dir = api::NormalizeHostFolder(dir);
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
    // The operator refuses a policy with such a name by the same rule (api/names.h); a config
    // written by hand may still have one.
    if (!api::IsRuntimeClassName(runtime_class.name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".name \"", runtime_class.name, "\" is not usable: ", api::kRuntimeClassNameRule));
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
