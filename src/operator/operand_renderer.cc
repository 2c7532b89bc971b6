#include "operator/operand_renderer.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

#include "api/cc_mode.h"
#include "api/container_images.h"
#include "api/labels.h"
#include "common/status_macros.h"
#include "kube/json_fields.h"
#include "kube/manifest.h"
#include "operator/checked_configs.h"
#include "operator/container_node_facts.h"
#include "operator/container_operands.h"
#include "operator/dcgm_operands.h"
#include "operator/mig_manager_operand.h"
#include "operator/operand_states.h"
#include "operator/precompiled_driver.h"

namespace gpuop::op {
namespace {

using nlohmann::json;
using Variables = std::map<std::string, std::string>;

constexpr char kRuntimeClassVariable[] = "${RUNTIME_CLASS}";
// A manifest file whose name has this is applied only with spec.cdi.enabled (the CDI
// RuntimeClasses of the pre-requisites).
constexpr char kCdiOnlyFileMark[] = "_cdi";
constexpr char kDriverState[] = "state-driver";

bool IsContainerState(std::string_view state) {
  return state == kDriverState || state == "state-container-toolkit" ||
         state == "state-operator-validation" || state == "state-device-plugin" ||
         state == "state-dcgm" || state == "state-dcgm-exporter" ||
         state == "gpu-feature-discovery" || state == "state-mig-manager" ||
         state == "state-mps-control-daemon" || state == "state-node-status-exporter";
}

bool IsDigest(std::string_view image) { return image.find("sha256:") != std::string_view::npos; }
constexpr api::CcMode kDefaultCcMode = api::CcMode::kOff;  // No GPU reset unless asked for.

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// Replaces each ${NAME} in `text`; an unknown name is a manifest bug, reported as such.
absl::StatusOr<std::string> Fill(const std::string& text, const Variables& variables) {
  std::string out;
  size_t at = 0;
  while (true) {
    const size_t start = text.find("${", at);
    if (start == std::string::npos) break;
    const size_t end = text.find('}', start);
    if (end == std::string::npos) break;
    const std::string name = text.substr(start + 2, end - start - 2);
    const auto it = variables.find(name);
    if (it == variables.end()) {
      return absl::InternalError(absl::StrCat("manifest uses ${", name, "}, which is not defined"));
    }
    absl::StrAppend(&out, text.substr(at, start - at), it->second);
    at = end + 1;
  }
  absl::StrAppend(&out, text.substr(at));
  return out;
}

absl::Status FillStrings(json& value, const Variables& variables) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (!absl::StrContains(text, "${")) return absl::OkStatus();
    absl::StatusOr<std::string> filled = Fill(text, variables);
    if (!filled.ok()) return filled.status();
    value = *std::move(filled);
  } else if (value.is_structured()) {
    for (json& item : value) {
      if (absl::Status status = FillStrings(item, variables); !status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

json KataManagerConfig(const api::ClusterPolicy& policy) {
  json classes = json::array();
  for (const api::KataRuntimeClass& entry : policy.kata_runtime_classes) {
    json artifacts = {{"url", entry.artifacts_url}};
    if (!entry.artifacts_pull_secret.empty()) artifacts["pullSecret"] = entry.artifacts_pull_secret;
    json item = {{"name", entry.name}, {"artifacts", artifacts}};
    if (!entry.node_selector.empty()) item["nodeSelector"] = entry.node_selector;
    classes.push_back(std::move(item));
  }
  return {{"artifactsDir", policy.kata_artifacts_dir}, {"runtimeClasses", classes}};
}

void SetEnv(json& container, const json& variable) {
  json& env = container["env"];
  if (!env.is_array()) env = json::array();
  for (json& existing : env) {
    if (existing.value("name", "") == variable["name"]) {
      existing = variable;
      return;
    }
  }
  env.push_back(variable);
}

// spec.hostPaths.rootFS: the volumes named host-* are the node's own files (/, /sys, /dev), so
// they move under the root; the others (kubelet's sockets, the ready files, CDI specs) are the
// kubelet's and runtime's folders and stay.
void PlaceHostMountsUnder(json& pod, const std::string& root_fs) {
  if (!pod.contains("volumes")) return;
  std::string root = root_fs;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root == "/") return;
  for (json& volume : pod["volumes"]) {
    if (!absl::StartsWith(volume.value("name", ""), "host-") || !volume.contains("hostPath")) {
      continue;
    }
    json& host_path = volume["hostPath"];
    const std::string path = host_path.value("path", "/");
    host_path["path"] = path == "/" ? root : absl::StrCat(root, path);
  }
}

// spec.daemonsets and the operand's section (NVIDIA's common operand fields), on a DaemonSet.
bool StateEnabled(std::string_view name, const api::ClusterPolicy& policy) {
  for (const OperandState& state : OperandStates()) {
    if (state.name == name) return state.enabled(policy);
  }
  return false;
}

void TransformDaemonSet(json& daemonset, const OperandState& state,
                        const api::ClusterPolicy& policy) {
  json& pod = daemonset["spec"]["template"]["spec"];
  // The validator waits for the CC manager only where there is one (as NVIDIA's transform).
  if (state.name == "state-sandbox-validation" && !StateEnabled("state-cc-manager", policy) &&
      pod.contains("initContainers")) {
    json kept = json::array();
    for (json& container : pod["initContainers"]) {
      if (container.value("name", "") != "cc-manager-validation") kept.push_back(container);
    }
    pod["initContainers"] = kept;
  }
  json& template_labels = daemonset["spec"]["template"]["metadata"]["labels"];
  const api::DaemonSetsSpec& common = policy.daemonsets;
  for (const auto& [key, value] : common.labels) {
    daemonset["metadata"]["labels"][key] = value;
    // The selector's `app` and our part-of stay as the manifest says.
    if (key != "app" && key != "app.kubernetes.io/part-of") template_labels[key] = value;
  }
  for (const auto& [key, value] : common.annotations) {
    daemonset["metadata"]["annotations"][key] = value;
    daemonset["spec"]["template"]["metadata"]["annotations"][key] = value;
  }
  if (policy.host_root_fs != "/") PlaceHostMountsUnder(pod, policy.host_root_fs);
  if (common.tolerations.is_array()) pod["tolerations"] = common.tolerations;
  if (!common.priority_class_name.empty()) pod["priorityClassName"] = common.priority_class_name;
  if (!common.update_strategy.empty()) {
    daemonset["spec"]["updateStrategy"] = {{"type", common.update_strategy}};
  }
  const json& daemonset_spec = daemonset["spec"];
  const auto strategy = daemonset_spec.find("updateStrategy");
  if (strategy != daemonset_spec.end() && strategy->is_object() &&
      strategy->value("type", "") == "RollingUpdate" && !common.max_unavailable.is_null()) {
    daemonset["spec"]["updateStrategy"]["rollingUpdate"] = {
        {"maxUnavailable", common.max_unavailable}};
  }

  const api::OperandSpec* spec = state.spec_key.empty() ? nullptr : policy.Operand(state.spec_key);
  if (spec == nullptr) return;
  if (!spec->image_pull_secrets.empty()) {
    json& secrets = pod["imagePullSecrets"];
    if (!secrets.is_array()) secrets = json::array();
    for (const std::string& name : spec->image_pull_secrets) {
      const json entry = {{"name", name}};
      if (std::find(secrets.begin(), secrets.end(), entry) == secrets.end())
        secrets.push_back(entry);
    }
  }
  if (!pod.contains("containers") || pod["containers"].empty()) return;
  json& main = pod["containers"][0];
  for (const json& variable : spec->env) SetEnv(main, variable);
  if (!spec->args.empty()) {
    // NVIDIA's images take the policy's args in place of theirs. Ours keep their own flags
    // (the subcommand needs them) and take the policy's after them, so a later flag wins.
    if (state.image == ImageSource::kPolicy || !main.contains("args")) {
      main["args"] = spec->args;
    } else {
      for (const std::string& arg : spec->args) main["args"].push_back(arg);
    }
  }
  if (spec->resources.is_object()) {
    for (const char* list : {"initContainers", "containers"}) {
      if (!pod.contains(list)) continue;
      for (json& container : pod[list]) container["resources"] = spec->resources;
    }
  }
}

// The kata manager may read only the pull secrets its runtime classes name.
void LimitKataManagerSecrets(json& role, const api::ClusterPolicy& policy) {
  std::set<std::string> secrets;
  for (const api::KataRuntimeClass& entry : policy.kata_runtime_classes) {
    if (!entry.artifacts_pull_secret.empty()) secrets.insert(entry.artifacts_pull_secret);
  }
  json rules = json::array();
  for (json& rule : role["rules"]) {
    const bool secret_rule = rule["resources"] == json::array({"secrets"});
    if (!secret_rule) {
      rules.push_back(rule);
    } else if (!secrets.empty()) {
      rule["resourceNames"] = secrets;
      rules.push_back(rule);
    }
  }
  role["rules"] = rules;
}

void Mark(json& object, const OperandState& state, const api::ClusterPolicy& policy) {
  json& metadata = object["metadata"];
  metadata["labels"][api::kManagedByLabel] = api::kManagedByValue;
  metadata["labels"][api::kOperandStateLabel] = state.name;
  metadata["ownerReferences"] = json::array({{{"apiVersion", api::kClusterPolicyApiVersion},
                                              {"kind", api::kClusterPolicyKind},
                                              {"name", policy.name},
                                              {"uid", policy.uid},
                                              {"controller", true},
                                              {"blockOwnerDeletion", true}}});
  if (metadata.contains("annotations")) {
    metadata["annotations"].erase(api::kAppliedHashAnnotation);
  }
  const std::string hash = absl::StrFormat("%016x", Fnv1a64(object.dump()));
  metadata["annotations"][api::kAppliedHashAnnotation] = hash;
}

absl::Status RenderState(const OperandState& state, const api::ClusterPolicy& policy,
                         const RenderContext& context, const std::vector<ManifestFile>& files,
                         std::vector<json>& objects) {
  Variables variables = {
      {"NAMESPACE", context.operator_namespace},
      {"GPUOP_IMAGE", context.gpuop_image},
      {"DEFAULT_WORKLOAD", std::string(api::WorkloadName(policy.default_workload))},
      {"DEFAULT_CC_MODE", policy.cc_default_mode.empty()
                              ? std::string(api::CcModeName(kDefaultCcMode))
                              : policy.cc_default_mode},
      {"KATA_MANAGER_CONFIG", KataManagerConfig(policy).dump()},
      {"CONTAINER_RUNTIME_CLASS", policy.container_runtime_class},
      {"ROOT_FS", policy.host_root_fs},
  };
  const api::OperandSpec* spec = state.spec_key.empty() ? nullptr : policy.Operand(state.spec_key);
  bool skip_daemonsets = false;
  std::vector<PrecompiledDriverBuild> precompiled;
  switch (state.image) {
    case ImageSource::kNone:
      break;
    case ImageSource::kGpuop:
      variables["IMAGE"] = context.gpuop_image;
      variables["IMAGE_PULL_POLICY"] = spec != nullptr && !spec->image_pull_policy.empty()
                                           ? PullPolicy(spec->image_pull_policy)
                                           : context.gpuop_image_pull_policy;
      break;
    case ImageSource::kPolicy: {
      variables["IMAGE_PULL_POLICY"] = PullPolicy(spec != nullptr ? spec->image_pull_policy : "");
      if (state.name == kDriverState && policy.driver.use_precompiled) {
        // One DaemonSet per kernel, each with its own image (below).
        GPUOP_ASSIGN_OR_RETURN(const std::string base,
                               UntaggedContainerImage(policy, state.spec_key, context));
        GPUOP_ASSIGN_OR_RETURN(precompiled, PrecompiledDriverBuilds(policy, context, base));
        skip_daemonsets = precompiled.empty();
        variables["IMAGE"] = "";
        break;
      }
      absl::StatusOr<std::string> image =
          IsContainerState(state.name) ? ContainerOperandImage(policy, state.spec_key, context)
                                       : OperandImage(spec, state.spec_key);
      if (!image.ok()) {
        // A driver tag needs the GPU nodes' OS; with no container node nothing would run it.
        if (state.name == kDriverState && !context.any_container_gpu_node) {
          skip_daemonsets = true;
          variables["IMAGE"] = "";
        } else {
          return image.status();
        }
      } else {
        variables["IMAGE"] = *image;
      }
      break;
    }
  }
  if (state.name == kDriverState) {
    // The driver pod's sidecars, each an image of its own (tagged with the OS as the driver's);
    // the driver's transform drops those that are off.
    for (const auto& [key, variable] :
         {std::pair{"gds", "GDS_IMAGE"}, std::pair{"gdrcopy", "GDRCOPY_IMAGE"}}) {
      const api::OperandSpec* sidecar = policy.Operand(key);
      variables[variable] = "";
      variables[absl::StrCat(variable, "_PULL_POLICY")] =
          PullPolicy(sidecar != nullptr ? sidecar->image_pull_policy : "");
      if (skip_daemonsets || !policy.OperandEnabled(key)) continue;
      GPUOP_ASSIGN_OR_RETURN(variables[variable], ContainerOperandImage(policy, key, context));
    }
  }
  if (IsContainerState(state.name)) {
    const api::OperandSpec* validator = policy.Operand("validator");
    variables["VALIDATOR_IMAGE_PULL_POLICY"] =
        validator != nullptr && !validator->image_pull_policy.empty()
            ? PullPolicy(validator->image_pull_policy)
            : context.gpuop_image_pull_policy;
    const api::OperandSpec& manager = policy.driver.manager;
    if (manager.repository.empty() && manager.image.empty() && manager.version.empty()) {
      variables["DRIVER_MANAGER_IMAGE"] = api::kDefaultDriverManagerImage;
    } else {
      absl::StatusOr<std::string> image = OperandImage(&manager, "driver.manager");
      if (!image.ok()) return image.status();
      variables["DRIVER_MANAGER_IMAGE"] = *image;
    }
    variables["DRIVER_MANAGER_IMAGE_PULL_POLICY"] = PullPolicy(manager.image_pull_policy);
  }

  for (const ManifestFile& file : files) {
    if (file.state != state.name) continue;
    if (!policy.cdi_enabled && file.name.find(kCdiOnlyFileMark) != std::string_view::npos) continue;
    // A manifest that names ${RUNTIME_CLASS} is one object per kata runtime class.
    std::vector<const api::KataRuntimeClass*> instances = {nullptr};
    if (file.text.find(kRuntimeClassVariable) != std::string_view::npos) {
      instances.clear();
      for (const api::KataRuntimeClass& entry : policy.kata_runtime_classes) {
        if (entry.name == policy.container_runtime_class) {
          return absl::InvalidArgumentError(
              absl::StrCat("spec.kataManager.config.runtimeClasses: \"", entry.name,
                           "\" is the container path's RuntimeClass (spec.operator.runtimeClass)"));
        }
        instances.push_back(&entry);
      }
    }
    absl::StatusOr<std::vector<json>> parsed = kube::ParseManifests(file.text);
    if (!parsed.ok()) {
      return absl::InternalError(absl::StrCat(std::string(state.name), "/", std::string(file.name),
                                              ": ", parsed.status().message()));
    }
    for (const api::KataRuntimeClass* instance : instances) {
      Variables these = variables;
      if (instance != nullptr) these["RUNTIME_CLASS"] = instance->name;
      for (const json& parsed_object : *parsed) {
        const std::string kind = parsed_object.value("kind", "");
        if (kind == "DaemonSet" && skip_daemonsets) continue;
        // The precompiled driver is one DaemonSet per kernel, the rest one object each.
        const bool per_kernel = kind == "DaemonSet" && !precompiled.empty();
        for (size_t i = 0; i < (per_kernel ? precompiled.size() : 1); ++i) {
          json object = parsed_object;
          if (per_kernel) these["IMAGE"] = precompiled[i].image;
          if (absl::Status filled = FillStrings(object, these); !filled.ok()) {
            return absl::InternalError(absl::StrCat(
                std::string(state.name), "/", std::string(file.name), ": ", filled.message()));
          }
          if (kind == "DaemonSet") {
            TransformDaemonSet(object, state, policy);
            if (IsContainerState(state.name)) {
              GPUOP_RETURN_IF_ERROR(
                  TransformContainerDaemonSet(object, state.name, policy, context));
            }
            if (per_kernel) MakePrecompiledDaemonSet(object, precompiled[i]);
          }
          if (kind == "ConfigMap") {
            const std::string name = kube::StringField(object["metadata"], "name");
            if (!MigManagerWantsConfigMap(name, policy)) continue;
            // The checked copies hold the data the operator let through (checked_configs.h),
            // set after the variables are filled: an admin's text is never read as a template.
            if (name == kCheckedDevicePluginConfigs || name == kCheckedMigConfig) {
              const auto& data = name == kCheckedDevicePluginConfigs
                                     ? context.checked_device_plugin_configs
                                     : context.checked_mig_config;
              if (!data) continue;
              object["data"] = *data;
            }
          }
          if (kind == "Service" && state.name == "state-dcgm-exporter") {
            TransformDcgmExporterService(object, policy);
          }
          // The node status exporter's ServiceMonitor goes wherever its CRD is, as NVIDIA's.
          if (kind == "ServiceMonitor" && state.name == "state-dcgm-exporter") {
            if (!policy.dcgm_exporter.service_monitor_enabled) continue;
            GPUOP_RETURN_IF_ERROR(TransformDcgmServiceMonitor(object, policy));
          }
          if (kind == "Role" && state.name == "state-kata-manager") {
            LimitKataManagerSecrets(object, policy);
          }
          if (kind == "RuntimeClass" && instance != nullptr) {
            for (const auto& [key, value] : instance->node_selector) {
              object["scheduling"]["nodeSelector"][key] = value;
            }
          }
          Mark(object, state, policy);
          objects.push_back(std::move(object));
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> UntaggedContainerImage(const api::ClusterPolicy& policy,
                                                   std::string_view spec_key,
                                                   const RenderContext& context) {
  const api::OperandSpec* spec = policy.Operand(spec_key);
  if (spec != nullptr &&
      !(spec->repository.empty() && spec->image.empty() && spec->version.empty())) {
    return OperandImage(spec, spec_key);
  }
  if (const auto it = context.fallback_images.find(std::string(spec_key));
      it != context.fallback_images.end() && !it->second.empty()) {
    return it->second;
  }
  for (const api::FallbackImage& fallback : api::kFallbackImages) {
    if (fallback.spec_key == spec_key) return std::string(fallback.image);
  }
  return absl::InvalidArgumentError(absl::StrCat("spec.", std::string(spec_key),
                                                 ": no image; set repository, image and version"));
}

absl::StatusOr<std::string> ContainerOperandImage(const api::ClusterPolicy& policy,
                                                  std::string_view spec_key,
                                                  const RenderContext& context) {
  GPUOP_ASSIGN_OR_RETURN(std::string image, UntaggedContainerImage(policy, spec_key, context));
  // NVIDIA builds the driver's images, and its sidecars', per OS.
  const bool per_os = spec_key == "driver" || spec_key == "gds" || spec_key == "gdrcopy";
  if (!per_os || IsDigest(image)) return image;
  if (context.driver_os_tag.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "spec.", std::string(spec_key), ": the image's tag ends in the GPU nodes' OS (", image,
        "-<os><version>), and no GPU node has Node Feature Discovery's labels ", kNfdOsIdLabel,
        " and ", kNfdOsVersionLabel, "; deploy NFD, or set ", std::string(spec_key),
        ".version to a digest"));
  }
  return absl::StrCat(image, "-", context.driver_os_tag);
}

absl::StatusOr<std::string> OperandImage(const api::OperandSpec* spec, std::string_view spec_key) {
  const std::string path = absl::StrCat("spec.", std::string(spec_key));
  if (spec == nullptr ||
      (spec->repository.empty() && spec->image.empty() && spec->version.empty())) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no image; set repository, image and version"));
  }
  if (spec->repository.empty() && spec->version.empty()) return spec->image;
  std::vector<std::string> missing;
  if (spec->repository.empty()) missing.push_back("repository");
  if (spec->image.empty()) missing.push_back("image");
  if (spec->version.empty()) missing.push_back("version");
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", absl::StrJoin(missing, " and "),
        " not set; give repository, image and version together (or a full reference in image)"));
  }
  if (spec->version.starts_with("sha256:")) {
    return absl::StrCat(spec->repository, "/", spec->image, "@", spec->version);
  }
  return absl::StrCat(spec->repository, "/", spec->image, ":", spec->version);
}

std::string PullPolicy(std::string_view value) {
  if (value == "Always" || value == "Never" || value == "IfNotPresent") return std::string(value);
  return "IfNotPresent";
}

std::string ManifestKey(const json& object) {
  const json metadata = object.value("metadata", json::object());
  const std::string ns = metadata.value("namespace", "");
  return absl::StrCat(object.value("kind", ""), " ", ns.empty() ? "" : ns + "/",
                      metadata.value("name", ""));
}

std::vector<RenderedState> RenderOperands(const api::ClusterPolicy& policy,
                                          const RenderContext& context,
                                          const std::vector<ManifestFile>& files) {
  std::vector<RenderedState> rendered;
  for (const OperandState& state : OperandStates()) {
    RenderedState out{.name = std::string(state.name), .enabled = state.enabled(policy)};
    if (out.enabled) {
      out.error = RenderState(state, policy, context, files, out.objects);
      if (!out.error.ok()) out.objects.clear();
    }
    rendered.push_back(std::move(out));
  }
  return rendered;
}

}  // namespace gpuop::op
