#include "operator/pod_spec_edits.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "api/host_folders.h"
#include "common/printable.h"
#include "kube/json_fields.h"

namespace gpuop::op {

using nlohmann::json;

namespace {

// pod[key] as a list, made one when it is missing or of another type.
json& ListField(json& object, const char* key) {
  if (!object.is_object()) object = json::object();
  json& list = object[key];
  if (!list.is_array()) list = json::array();
  return list;
}

bool HasList(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_array();
}

}  // namespace

json* FindNamed(json& pod, const char* list, std::string_view name) {
  if (!HasList(pod, list)) return nullptr;
  for (json& entry : pod[list]) {
    if (kube::StringField(entry, "name") == name) return &entry;
  }
  return nullptr;
}

bool RemoveNamed(json& pod, const char* list, std::string_view name) {
  if (!HasList(pod, list)) return false;
  json kept = json::array();
  for (json& entry : pod[list]) {
    if (kube::StringField(entry, "name") != name) kept.push_back(std::move(entry));
  }
  const bool removed = kept.size() != pod[list].size();
  pod[list] = std::move(kept);
  return removed;
}

void SetNamed(json& pod, const char* list, json entry) {
  if (json* existing = FindNamed(pod, list, kube::StringField(entry, "name"))) {
    *existing = std::move(entry);
    return;
  }
  ListField(pod, list).push_back(std::move(entry));
}

std::string EnvValue(const json& container, std::string_view name) {
  if (!HasList(container, "env")) return "";
  for (const json& variable : container["env"]) {
    if (kube::StringField(variable, "name") == name) return kube::StringField(variable, "value");
  }
  return "";
}

void SetEnv(json& container, std::string_view name, std::string_view value) {
  SetNamed(container, "env", {{"name", std::string(name)}, {"value", std::string(value)}});
}

void SetEnvList(json& container, const json& variables) {
  if (!variables.is_array()) return;
  for (const json& variable : variables) {
    if (!kube::StringField(variable, "name").empty()) SetNamed(container, "env", variable);
  }
}

void EraseEnv(json& container, std::string_view name) { RemoveNamed(container, "env", name); }

void SetMount(json& container, json mount) {
  json& mounts = ListField(container, "volumeMounts");
  const std::string path = kube::StringField(mount, "mountPath");
  for (json& existing : mounts) {
    if (kube::StringField(existing, "mountPath") == path) {
      existing = std::move(mount);
      return;
    }
  }
  mounts.push_back(std::move(mount));
}

void MoveMounts(json& container, std::string_view volume, std::string_view path) {
  if (!HasList(container, "volumeMounts")) return;
  for (json& mount : container["volumeMounts"]) {
    if (kube::StringField(mount, "name") == volume) mount["mountPath"] = std::string(path);
  }
}

bool SetHostPath(json& pod, std::string_view volume, std::string_view path) {
  json* entry = FindNamed(pod, "volumes", volume);
  if (entry == nullptr || !entry->contains("hostPath") || !(*entry)["hostPath"].is_object()) {
    return false;
  }
  (*entry)["hostPath"]["path"] = std::string(path);
  return true;
}

void AddPullSecrets(json& pod, const std::vector<std::string>& secrets) {
  if (secrets.empty()) return;
  json& list = ListField(pod, "imagePullSecrets");
  for (const std::string& name : secrets) {
    const json entry = {{"name", name}};
    if (std::find(list.begin(), list.end(), entry) == list.end()) list.push_back(entry);
  }
}

absl::StatusOr<std::string> HostPathValue(std::string_view value, std::string_view field) {
  const std::string shown = absl::StrCat("\"", common::Printable(value, 256), "\"");
  if (!value.starts_with('/')) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": ", shown, " is not an absolute path"));
  }
  for (absl::string_view part : absl::StrSplit(std::string(value), '/')) {
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(field), ": ", shown, " holds \"..\""));
    }
  }
  return api::NormalizeHostFolder(value);
}

}  // namespace gpuop::op
