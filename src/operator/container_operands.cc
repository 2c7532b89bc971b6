#include "operator/container_operands.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "api/labels.h"
#include "api/names.h"
#include "common/printable.h"
#include "common/status_macros.h"
#include "kube/json_fields.h"
#include "operator/checked_configs.h"
#include "operator/dcgm_operands.h"
#include "operator/driver_operand.h"
#include "operator/mig_manager_operand.h"
#include "operator/pod_spec_edits.h"
#include "operator/toolkit_operand.h"

namespace gpuop::op {
namespace {

using nlohmann::json;

// The host paths the manifests hold, which are also the policy's defaults: a policy that keeps
// them changes nothing.
constexpr char kManifestDriverInstallDir[] = "/run/nvidia/driver";
constexpr char kManifestMpsRoot[] = "/run/nvidia/mps";

constexpr char kDevicePluginContainer[] = "nvidia-device-plugin";
// Checks the driver as the validator's driver step does, so its mount moves the same way.
constexpr char kNodeStatusExporterContainer[] = "nvidia-node-status-exporter";
constexpr char kMpsDaemonContainer[] = "mps-control-daemon-ctr";
// What the config-manager sidecar signals on a config change (NVIDIA's PROCESS_TO_SIGNAL).
constexpr char kMpsDaemonProcess[] = "/usr/bin/mps-control-daemon";
constexpr char kGfdContainer[] = "gpu-feature-discovery";

// The device plugin config wiring of k8s-device-plugin v0.20.0 (cmd/config-manager): it copies
// the key the node's label names from the ConfigMap mounted at /available-configs to
// /config/config.yaml, once before the plugin starts and again (with a SIGHUP to the plugin,
// hence the shared process namespace) whenever the label changes. The ConfigMap's volume has a
// name of ours: a ConfigMap may be named what a volume may not ("a.b") or what another volume of
// the pod is ("config").
constexpr char kConfigManagerInit[] = "config-manager-init";
constexpr char kConfigManagerSidecar[] = "config-manager";
constexpr char kAvailableConfigsVolume[] = "device-plugin-configs";
constexpr char kAvailableConfigsDir[] = "/available-configs";
constexpr char kConfigVolume[] = "config";
constexpr char kConfigDir[] = "/config";
constexpr char kConfigFile[] = "/config/config.yaml";

std::string Quoted(std::string_view value) {
  return absl::StrCat("\"", common::Printable(value, 256), "\"");
}

// daemonset.spec.template.spec, or nullptr when the object has no pod template.
json* PodOf(json& daemonset) {
  json* at = &daemonset;
  for (const char* key : {"spec", "template", "spec"}) {
    if (!at->is_object()) return nullptr;
    const auto it = at->find(key);
    if (it == at->end() || !it->is_object()) return nullptr;
    at = &*it;
  }
  return at;
}

absl::StatusOr<json*> MainContainer(json& pod, std::string_view state, std::string_view name) {
  json* container = FindNamed(pod, "containers", name);
  if (container == nullptr) {
    return absl::InternalError(absl::StrCat(std::string(state), ": the DaemonSet has no container ",
                                            std::string(name), " to transform"));
  }
  return container;
}

// The section's env once more, after this transform's own: the common transform applied it
// first, but NVIDIA applies it last, so that what an admin sets wins over the operator's value.
void ReapplySectionEnv(json& container, const api::ClusterPolicy& policy,
                       std::string_view spec_key) {
  if (const api::OperandSpec* spec = policy.Operand(spec_key)) SetEnvList(container, spec->env);
}

// spec.hostPaths.driverInstallDir: where the driver's files are on the host. The validator's
// driver step and the node status exporter look for them at the same path inside their
// containers (DRIVER_INSTALL_DIR_CTR_PATH), so their mounts move with the volume; the others
// mount the volume at /driver-root and keep that.
absl::Status PlaceDriverInstallDir(json& pod, const api::ClusterPolicy& policy) {
  GPUOP_ASSIGN_OR_RETURN(const std::string dir, HostPathValue(policy.driver_install_dir,
                                                              "spec.hostPaths.driverInstallDir"));
  if (dir == kManifestDriverInstallDir) return absl::OkStatus();
  SetHostPath(pod, "driver-install-dir", dir);
  json* checkers[] = {FindNamed(pod, "initContainers", "driver-validation"),
                      FindNamed(pod, "containers", kNodeStatusExporterContainer)};
  for (json* checker : checkers) {
    if (checker == nullptr) continue;
    SetEnv(*checker, "DRIVER_INSTALL_DIR", dir);
    SetEnv(*checker, "DRIVER_INSTALL_DIR_CTR_PATH", dir);
    MoveMounts(*checker, "driver-install-dir", dir);
  }
  return absl::OkStatus();
}

// Whether the driver step should wait for the driver container (the driver state is on) or
// accept only a driver installed on the host.
void MarkDriverOwner(json& pod, const api::ClusterPolicy& policy) {
  if (json* validation = FindNamed(pod, "initContainers", "driver-validation")) {
    SetEnv(*validation, "OPERATOR_MANAGED_DRIVER",
           policy.OperandEnabled("driver", true) ? "true" : "false");
  }
}

// The validator's init containers, wherever they wait for a step (NVIDIA's
// transformValidationInitContainer and TransformValidatorComponent): spec.validator's pull
// secrets and resources, root (they chroot into the host and write the ready files in a folder
// the kubelet owns), and the step's env. Applied after every other edit, so the step's env wins.
void TransformValidationInitContainers(json& pod, const api::ClusterPolicy& policy) {
  if (!pod.contains("initContainers") || !pod["initContainers"].is_array()) return;
  const api::OperandSpec* validator = policy.Operand("validator");
  const api::ValidatorStepsEnv& steps = policy.validator_steps;
  bool any = false;
  for (json& container : pod["initContainers"]) {
    const std::string name = kube::StringField(container, "name");
    if (name.find("validation") == std::string::npos) continue;
    any = true;
    json& security = container["securityContext"];
    if (!security.is_object()) security = json::object();
    security["runAsUser"] = 0;
    if (validator != nullptr && validator->resources.is_object()) {
      container["resources"] = validator->resources;
    }
    if (name.starts_with("driver")) SetEnvList(container, steps.driver);
    if (name.starts_with("toolkit")) SetEnvList(container, steps.toolkit);
    if (name.starts_with("cuda")) SetEnvList(container, steps.cuda);
    if (name.starts_with("plugin")) SetEnvList(container, steps.plugin);
  }
  if (any && validator != nullptr) AddPullSecrets(pod, validator->image_pull_secrets);
}

// The pods that need the NVIDIA runtime to see the GPUs name its RuntimeClass. Not on CRI-O
// without CDI: there the toolkit installs an OCI hook instead of runtime handlers
// (CRIO_CONFIG_MODE=hook), so no `nvidia` handler exists and a pod naming it would not start.
absl::Status SetRuntimeClass(json& pod, const api::ClusterPolicy& policy,
                             const RenderContext& context) {
  if (!policy.cdi_enabled && context.container_runtime == "crio") {
    pod.erase("runtimeClassName");
    return absl::OkStatus();
  }
  if (!api::IsRuntimeClassName(policy.container_runtime_class)) {
    return absl::InvalidArgumentError(
        absl::StrCat("spec.operator.runtimeClass: ", Quoted(policy.container_runtime_class),
                     " is not valid: ", api::kRuntimeClassNameRule));
  }
  pod["runtimeClassName"] = policy.container_runtime_class;
  return absl::OkStatus();
}

absl::Status CheckMigStrategy(const api::ClusterPolicy& policy) {
  const std::string& strategy = policy.mig_strategy;
  if (strategy.empty() || strategy == "none" || strategy == "single" || strategy == "mixed") {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("spec.mig.strategy: ", Quoted(strategy), " is not one of none, single, mixed"));
}

// NVIDIA's applyMIGConfiguration. No strategy lets the plugin pick one per node (its default is
// none); with "none" it does not watch MIG devices either.
void ApplyMigStrategy(json& container, const std::string& strategy) {
  if (strategy.empty()) {
    EraseEnv(container, "MIG_STRATEGY");
  } else {
    SetEnv(container, "MIG_STRATEGY", strategy);
  }
  if (strategy == "none") {
    EraseEnv(container, "NVIDIA_MIG_MONITOR_DEVICES");
  } else {
    SetEnv(container, "NVIDIA_MIG_MONITOR_DEVICES", "all");
  }
}

// config-manager runs from the device plugin's image (k8s-device-plugin ships it). GFD's pod
// takes it from spec.devicePlugin too, falling back on GFD's own image, which is the same
// k8s-device-plugin image unless an admin changed it.
absl::StatusOr<std::string> ConfigManagerImage(const api::ClusterPolicy& policy, const json& main) {
  const api::OperandSpec* plugin = policy.Operand("devicePlugin");
  if (plugin != nullptr &&
      !(plugin->repository.empty() && plugin->image.empty() && plugin->version.empty())) {
    return OperandImage(plugin, "devicePlugin");
  }
  return kube::StringField(main, "image");
}

json ConfigMounts() {
  return json::array({{{"name", kConfigVolume}, {"mountPath", kConfigDir}},
                      {{"name", kAvailableConfigsVolume}, {"mountPath", kAvailableConfigsDir}}});
}

json ConfigManagerContainer(const char* name, bool oneshot, std::string_view process,
                            const std::string& default_config) {
  json env = json::array({
      {{"name", "ONESHOT"}, {"value", oneshot ? "true" : "false"}},
      {{"name", "KUBECONFIG"}, {"value", ""}},
      {{"name", "NODE_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.nodeName"}}}}}},
      {{"name", "NODE_LABEL"}, {"value", api::kDevicePluginConfigLabel}},
      {{"name", "CONFIG_FILE_SRCDIR"}, {"value", kAvailableConfigsDir}},
      {{"name", "CONFIG_FILE_DST"}, {"value", kConfigFile}},
      {{"name", "DEFAULT_CONFIG"}, {"value", default_config}},
      {{"name", "FALLBACK_STRATEGIES"}, {"value", "empty"}},
      {{"name", "SEND_SIGNAL"}, {"value", oneshot ? "false" : "true"}},
  });
  if (!oneshot) {
    env.push_back({{"name", "SIGNAL"}, {"value", "1"}});  // SIGHUP: the plugin reloads.
    env.push_back({{"name", "PROCESS_TO_SIGNAL"}, {"value", std::string(process)}});
  }
  return {{"name", name},
          {"command", json::array({"config-manager"})},
          {"env", std::move(env)},
          {"volumeMounts", ConfigMounts()}};
}

// spec.devicePlugin.config: config-manager beside `main_name` (an init container for the first
// config, a sidecar for changes), both reading the ConfigMap, and the main container reading the
// file they write. Without a name, the pod has neither.
absl::Status WireConfigManager(json& pod, const api::ClusterPolicy& policy, std::string_view state,
                               std::string_view spec_key, std::string_view main_name,
                               std::string_view process) {
  RemoveNamed(pod, "initContainers", kConfigManagerInit);
  RemoveNamed(pod, "containers", kConfigManagerSidecar);
  const std::string& config_map = policy.device_plugin_config_name;
  if (config_map.empty()) return absl::OkStatus();
  if (!api::IsDnsSubdomain(config_map)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "spec.devicePlugin.config.name: ", Quoted(config_map), " is not a ConfigMap name"));
  }
  GPUOP_ASSIGN_OR_RETURN(json * main, MainContainer(pod, state, main_name));
  GPUOP_ASSIGN_OR_RETURN(const std::string image, ConfigManagerImage(policy, *main));
  const api::OperandSpec* plugin = policy.Operand("devicePlugin");
  const std::string pull_policy = plugin != nullptr && !plugin->image_pull_policy.empty()
                                      ? PullPolicy(plugin->image_pull_policy)
                                      : PullPolicy(kube::StringField(*main, "imagePullPolicy"));
  SetEnv(*main, "CONFIG_FILE", kConfigFile);
  for (json& mount : ConfigMounts()) SetMount(*main, std::move(mount));

  const api::OperandSpec* section = policy.Operand(spec_key);
  for (const auto& [list, oneshot] :
       {std::pair{"initContainers", true}, std::pair{"containers", false}}) {
    json container = ConfigManagerContainer(oneshot ? kConfigManagerInit : kConfigManagerSidecar,
                                            oneshot, process, policy.device_plugin_config_default);
    container["image"] = image;
    container["imagePullPolicy"] = pull_policy;
    // As the common transform gives every container of the pod the section's resources.
    if (section != nullptr && section->resources.is_object()) {
      container["resources"] = section->resources;
    }
    SetNamed(pod, list, std::move(container));  // `main` may move here; it is not used after.
  }
  // The operator's checked copy of the admin's ConfigMap (checked_configs.h), not the ConfigMap
  // itself: a config that fails its check never reaches the plugin.
  SetNamed(
      pod, "volumes",
      {{"name", kAvailableConfigsVolume}, {"configMap", {{"name", kCheckedDevicePluginConfigs}}}});
  SetNamed(pod, "volumes", {{"name", kConfigVolume}, {"emptyDir", json::object()}});
  // The API refuses shareProcessNamespace beside hostPID, which shares the host's anyway.
  const auto host_pid = pod.find("hostPID");
  if (host_pid == pod.end() || *host_pid != true) pod["shareProcessNamespace"] = true;
  return absl::OkStatus();
}

// spec.devicePlugin.mps.root moves the MPS folders of the device plugin and the MPS daemon.
absl::Status PlaceMpsRoot(json& pod, json& main, const api::ClusterPolicy& policy) {
  GPUOP_ASSIGN_OR_RETURN(const std::string mps_root, HostPathValue(policy.device_plugin_mps_root,
                                                                   "spec.devicePlugin.mps.root"));
  if (mps_root != kManifestMpsRoot) {
    SetHostPath(pod, "mps-root", mps_root);
    SetHostPath(pod, "mps-shm", absl::StrCat(mps_root == "/" ? "" : mps_root, "/shm"));
    SetEnv(main, "MPS_ROOT", mps_root);
  }
  return absl::OkStatus();
}

// What the device plugin, its MPS daemon and GFD share: the NVIDIA runtime, the config-manager
// beside `main_name` (signalling `process`), and the MIG strategy on that container, which is
// returned for the operand's own edits (then ReapplySectionEnv, last).
absl::StatusOr<json*> WireConfigManagedOperand(json& pod, std::string_view state,
                                               const api::ClusterPolicy& policy,
                                               const RenderContext& context,
                                               std::string_view spec_key,
                                               std::string_view main_name,
                                               std::string_view process) {
  GPUOP_RETURN_IF_ERROR(SetRuntimeClass(pod, policy, context));
  GPUOP_RETURN_IF_ERROR(WireConfigManager(pod, policy, state, spec_key, main_name, process));
  GPUOP_ASSIGN_OR_RETURN(json * main, MainContainer(pod, state, main_name));
  ApplyMigStrategy(*main, policy.mig_strategy);
  return main;
}

absl::Status TransformValidator(json& pod, const api::ClusterPolicy& policy,
                                const RenderContext& context) {
  GPUOP_RETURN_IF_ERROR(SetRuntimeClass(pod, policy, context));
  // The plugin step waits for the node to advertise GPUs, which only the device plugin does.
  if (!policy.OperandEnabled("devicePlugin", true)) {
    RemoveNamed(pod, "initContainers", "plugin-validation");
  }
  MarkDriverOwner(pod, policy);
  if (json* plugin = FindNamed(pod, "initContainers", "plugin-validation")) {
    if (policy.mig_strategy.empty()) {
      EraseEnv(*plugin, "MIG_STRATEGY");
    } else {
      SetEnv(*plugin, "MIG_STRATEGY", policy.mig_strategy);
    }
  }
  // The cuda and plugin steps start workload pods, which take the validator pod's RuntimeClass
  // and pull secrets from these variables.
  const api::OperandSpec* validator = policy.Operand("validator");
  for (const char* step : {"cuda-validation", "plugin-validation"}) {
    json* container = FindNamed(pod, "initContainers", step);
    if (container == nullptr) continue;
    const std::string runtime_class = kube::StringField(pod, "runtimeClassName");
    if (runtime_class.empty()) {
      EraseEnv(*container, "VALIDATOR_RUNTIME_CLASS");
    } else {
      SetEnv(*container, "VALIDATOR_RUNTIME_CLASS", runtime_class);
    }
    if (validator != nullptr && !validator->image_pull_secrets.empty()) {
      SetEnv(*container, "VALIDATOR_IMAGE_PULL_SECRETS",
             absl::StrJoin(validator->image_pull_secrets, ","));
    }
  }
  return absl::OkStatus();
}

absl::Status TransformDevicePlugin(json& pod, std::string_view state,
                                   const api::ClusterPolicy& policy, const RenderContext& context) {
  GPUOP_ASSIGN_OR_RETURN(json * main,
                         WireConfigManagedOperand(pod, state, policy, context, "devicePlugin",
                                                  kDevicePluginContainer, kDevicePluginContainer));
  if (policy.cdi_enabled) {
    // Workloads get their GPUs as CDI devices, by annotation and by the CRI field, which
    // containerd and CRI-O resolve from the plugin's spec with their own CDI support.
    SetEnv(*main, "CDI_ENABLED", "true");
    SetEnv(*main, "DEVICE_LIST_STRATEGY", "cdi-annotations,cdi-cri");
    SetEnv(*main, "CDI_ANNOTATION_PREFIX", "cdi.k8s.io/");
    if (policy.OperandEnabled("toolkit", true)) {
      GPUOP_ASSIGN_OR_RETURN(const std::string install_dir,
                             HostPathValue(policy.toolkit_install_dir, "spec.toolkit.installDir"));
      SetEnv(*main, "NVIDIA_CDI_HOOK_PATH",
             absl::StrCat(install_dir == "/" ? "" : install_dir, "/toolkit/nvidia-cdi-hook"));
    }
  }
  // The driver's GPUDirect Storage and GDRCopy sidecars: the plugin hands their devices (and,
  // for GDS, the MOFED ones it needs) to GPU containers.
  if (policy.OperandEnabled("gds")) {
    SetEnv(*main, "GDS_ENABLED", "true");
    SetEnv(*main, "MOFED_ENABLED", "true");
  }
  if (policy.OperandEnabled("gdrcopy")) SetEnv(*main, "GDRCOPY_ENABLED", "true");
  GPUOP_RETURN_IF_ERROR(PlaceMpsRoot(pod, *main, policy));
  ReapplySectionEnv(*main, policy, "devicePlugin");
  return absl::OkStatus();
}

// NVIDIA's TransformMPSControlDaemon: the device plugin's config (the daemon reads which
// resources are MPS-shared from it, and the config-manager signals it on a change), MIG
// strategy and section env.
absl::Status TransformMpsControlDaemon(json& pod, std::string_view state,
                                       const api::ClusterPolicy& policy,
                                       const RenderContext& context) {
  GPUOP_ASSIGN_OR_RETURN(json * main,
                         WireConfigManagedOperand(pod, state, policy, context, "devicePlugin",
                                                  kMpsDaemonContainer, kMpsDaemonProcess));
  GPUOP_RETURN_IF_ERROR(PlaceMpsRoot(pod, *main, policy));
  ReapplySectionEnv(*main, policy, "devicePlugin");
  return absl::OkStatus();
}

absl::Status TransformGpuFeatureDiscovery(json& pod, std::string_view state,
                                          const api::ClusterPolicy& policy,
                                          const RenderContext& context) {
  GPUOP_ASSIGN_OR_RETURN(json * main, WireConfigManagedOperand(pod, state, policy, context, "gfd",
                                                               kGfdContainer, kGfdContainer));
  ReapplySectionEnv(*main, policy, "gfd");
  return absl::OkStatus();
}

}  // namespace

absl::Status TransformContainerDaemonSet(json& daemonset, std::string_view state,
                                         const api::ClusterPolicy& policy,
                                         const RenderContext& context) {
  const bool driver = state == "state-driver";
  const bool toolkit = state == "state-container-toolkit";
  const bool validator = state == "state-operator-validation";
  const bool device_plugin = state == "state-device-plugin";
  const bool gfd = state == "gpu-feature-discovery";
  const bool dcgm = state == "state-dcgm";
  const bool dcgm_exporter = state == "state-dcgm-exporter";
  const bool mig_manager = state == "state-mig-manager";
  const bool mps_daemon = state == "state-mps-control-daemon";
  const bool status_exporter = state == "state-node-status-exporter";
  if (!(driver || toolkit || validator || device_plugin || gfd || dcgm || dcgm_exporter ||
        mig_manager || mps_daemon || status_exporter)) {
    return absl::InvalidArgumentError(
        absl::StrCat("state ", Quoted(state), " has no container-path DaemonSet transform"));
  }
  json* pod = PodOf(daemonset);
  if (pod == nullptr) {
    return absl::InternalError(
        absl::StrCat(std::string(state), ": the DaemonSet has no pod template"));
  }
  if (validator || device_plugin || gfd || mps_daemon) {
    GPUOP_RETURN_IF_ERROR(CheckMigStrategy(policy));
  }
  GPUOP_RETURN_IF_ERROR(PlaceDriverInstallDir(*pod, policy));

  if (driver) {
    GPUOP_RETURN_IF_ERROR(TransformDriverDaemonSet(daemonset, *pod, policy, context));
  } else if (toolkit) {
    MarkDriverOwner(*pod, policy);
    GPUOP_RETURN_IF_ERROR(TransformToolkitPod(*pod, policy, context));
  } else if (validator) {
    GPUOP_RETURN_IF_ERROR(TransformValidator(*pod, policy, context));
  } else if (device_plugin) {
    GPUOP_RETURN_IF_ERROR(TransformDevicePlugin(*pod, state, policy, context));
  } else if (mps_daemon) {
    GPUOP_RETURN_IF_ERROR(TransformMpsControlDaemon(*pod, state, policy, context));
  } else if (status_exporter) {
    // Not under the NVIDIA runtime (NVIDIA's sets none): it must report a broken toolkit.
  } else if (dcgm) {
    GPUOP_RETURN_IF_ERROR(SetRuntimeClass(*pod, policy, context));
  } else if (mig_manager) {
    GPUOP_RETURN_IF_ERROR(SetRuntimeClass(*pod, policy, context));
    GPUOP_RETURN_IF_ERROR(TransformMigManagerPod(*pod, policy));
  } else if (dcgm_exporter) {
    GPUOP_RETURN_IF_ERROR(SetRuntimeClass(*pod, policy, context));
    GPUOP_RETURN_IF_ERROR(TransformDcgmExporterPod(*pod, policy));
    for (const auto& [key, value] : policy.dcgm_exporter.annotations) {
      daemonset["spec"]["template"]["metadata"]["annotations"][key] = value;
    }
  } else {
    GPUOP_RETURN_IF_ERROR(TransformGpuFeatureDiscovery(*pod, state, policy, context));
  }
  TransformValidationInitContainers(*pod, policy);
  return absl::OkStatus();
}

}  // namespace gpuop::op
