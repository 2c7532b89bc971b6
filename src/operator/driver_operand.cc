#include "operator/driver_operand.h"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "api/names.h"
#include "common/printable.h"
#include "common/status_macros.h"
#include "operator/pod_spec_edits.h"

namespace gpuop::op {
namespace {

using nlohmann::json;

constexpr char kManagerContainer[] = "k8s-driver-manager";
constexpr char kDriverContainer[] = "nvidia-driver-ctr";
constexpr char kPeermemContainer[] = "nvidia-peermem-ctr";
constexpr char kConfigDigestEnv[] = "DRIVER_CONFIG_DIGEST";

// The sidecars that build and load a module of their own beside the driver's (the reference's
// nvidia-fs-ctr and nvidia-gdrcopy-ctr), by the top-level ClusterPolicy section that turns each
// on, and the flag the driver container then writes into .driver-ctr-ready, so that the
// validator's driver step waits for that module too.
struct DriverSidecar {
  const char* spec_key;
  const char* container;
  const char* flag;
};
constexpr DriverSidecar kDriverSidecars[] = {
    {"gds", "nvidia-fs-ctr", "GDS_ENABLED"},
    {"gdrcopy", "nvidia-gdrcopy-ctr", "GDRCOPY_ENABLED"},
};

// The module parameter files NVIDIA's driver container reads as it loads each module
// (nvidia-driver, _load_driver: /drivers/<module>.conf, each only if `-f` finds it).
constexpr const char* kModuleParameterFiles[] = {"nvidia.conf", "nvidia-uvm.conf",
                                                 "nvidia-modeset.conf", "nvidia-peermem.conf"};
constexpr char kModuleParameterDir[] = "/drivers";

// vGPU licensing (NVIDIA's VGPULicensingConfigMountPath and NLSClientTokenMountPath): the
// gridd.conf the driver's nvidia-gridd reads, and with NLS the client token beside it.
constexpr char kGriddConf[] = "gridd.conf";
constexpr char kGriddConfPath[] = "/drivers/gridd.conf";
constexpr char kNlsToken[] = "client_configuration_token.tok";
constexpr char kNlsTokenPath[] = "/drivers/ClientConfigToken/client_configuration_token.tok";

std::string Quoted(std::string_view value) {
  return absl::StrCat("\"", common::Printable(value, 256), "\"");
}

enum class OsFamily { kDebian, kRedHat, kSuse };

// The driver image's distribution, from the OS tag its tag ends in ("ubuntu24.04", "rhel9",
// "sles15.6"); Debian's (Ubuntu's) when the tag says nothing else.
OsFamily FamilyOf(std::string_view os_tag) {
  for (std::string_view prefix : {"rhel", "rhcos", "rocky", "centos", "ol"}) {
    if (os_tag.starts_with(prefix)) return OsFamily::kRedHat;
  }
  if (os_tag.starts_with("sles") || os_tag.starts_with("sl-micro")) {
    return OsFamily::kSuse;
  }
  return OsFamily::kDebian;
}

// Where the image's package manager finds extra repositories (NVIDIA's RepoConfigPathMap).
const char* RepoDir(OsFamily family) {
  switch (family) {
    case OsFamily::kRedHat:
      return "/etc/yum.repos.d";
    case OsFamily::kSuse:
      return "/etc/zypp/repos.d";
    case OsFamily::kDebian:
      break;
  }
  return "/etc/apt/sources.list.d";
}

// Where the image's CA tooling finds extra certificates (NVIDIA's CertConfigPathMap).
const char* CertDir(OsFamily family) {
  switch (family) {
    case OsFamily::kRedHat:
      return "/etc/pki/ca-trust/extracted/pem";
    case OsFamily::kSuse:
      return "/etc/pki/trust/anchors";
    case OsFamily::kDebian:
      break;
  }
  return "/usr/local/share/ca-certificates";
}

absl::Status CheckObjectName(const std::string& name, std::string_view field,
                             std::string_view kind) {
  if (name.empty() || api::IsDnsSubdomain(name)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": ", Quoted(name),
                                                 " is not a ", std::string(kind), " name"));
}

absl::Status CheckDriverSpec(const api::DriverSpec& driver) {
  const std::string& type = driver.kernel_module_type;
  if (type != "auto" && type != "open" && type != "proprietary") {
    return absl::InvalidArgumentError(absl::StrCat("spec.driver.kernelModuleType: ", Quoted(type),
                                                   " is not one of auto, open, proprietary"));
  }
  GPUOP_RETURN_IF_ERROR(
      CheckObjectName(driver.repo_config_map, "spec.driver.repoConfig.configMapName", "ConfigMap"));
  GPUOP_RETURN_IF_ERROR(
      CheckObjectName(driver.cert_config_name, "spec.driver.certConfig.name", "ConfigMap"));
  GPUOP_RETURN_IF_ERROR(CheckObjectName(driver.kernel_module_config_name,
                                        "spec.driver.kernelModuleConfig.name", "ConfigMap"));
  GPUOP_RETURN_IF_ERROR(CheckObjectName(driver.licensing_config_map,
                                        "spec.driver.licensingConfig.configMapName", "ConfigMap"));
  return CheckObjectName(driver.licensing_secret, "spec.driver.licensingConfig.secretName",
                         "Secret");
}

// spec.driver.manager. Its image fields empty leave the manifest's (NVIDIA's chart default).
absl::Status TransformManager(json& pod, const api::DriverSpec& driver) {
  json* manager = FindNamed(pod, "initContainers", kManagerContainer);
  if (manager == nullptr) {
    return absl::InternalError(absl::StrCat("state-driver: the DaemonSet has no init container ",
                                            kManagerContainer, " to transform"));
  }
  const api::OperandSpec& spec = driver.manager;
  if (!(spec.repository.empty() && spec.image.empty() && spec.version.empty())) {
    GPUOP_ASSIGN_OR_RETURN((*manager)["image"], OperandImage(&spec, "driver.manager"));
  }
  if (!spec.image_pull_policy.empty()) {
    (*manager)["imagePullPolicy"] = PullPolicy(spec.image_pull_policy);
  }
  // With RDMA the manager waits for the MOFED driver before it lets the driver load.
  if (driver.rdma_enabled) {
    SetEnv(*manager, "GPU_DIRECT_RDMA_ENABLED", "true");
    if (driver.rdma_use_host_mofed) SetEnv(*manager, "USE_HOST_MOFED", "true");
  }
  SetEnvList(*manager, spec.env);
  AddPullSecrets(pod, spec.image_pull_secrets);
  return absl::OkStatus();
}

// A ConfigMap of files for one folder of the driver container. NVIDIA reads the ConfigMap and
// mounts each key by subPath, beside the image's own files; rendering reads nothing from the
// API, so here the ConfigMap is the whole folder and its files stand in for the image's.
void MountConfigMapDir(json& pod, json& container, const char* volume,
                       const std::string& config_map, const char* dir) {
  SetNamed(pod, "volumes", {{"name", volume}, {"configMap", {{"name", config_map}}}});
  SetMount(container, {{"name", volume}, {"mountPath", dir}, {"readOnly", true}});
}

// spec.driver.kernelModuleConfig.name: module parameter files in /drivers, where the driver's
// installer is too, so each by subPath rather than over the folder. Which keys the ConfigMap
// has is not known when rendering: the volume lists the files the driver reads and is optional,
// so an absent key is no error (the kubelet leaves an empty folder at its path, which the
// driver's `-f` test passes over).
void MountModuleParameters(json& pod, const std::string& config_map,
                           std::initializer_list<json*> containers) {
  json items = json::array();
  for (const char* file : kModuleParameterFiles) items.push_back({{"key", file}, {"path", file}});
  SetNamed(
      pod, "volumes",
      {{"name", "kernel-module-config"},
       {"configMap", {{"name", config_map}, {"items", std::move(items)}, {"optional", true}}}});
  for (json* container : containers) {
    if (container == nullptr) continue;
    for (const char* file : kModuleParameterFiles) {
      SetMount(*container, {{"name", "kernel-module-config"},
                            {"mountPath", absl::StrCat(kModuleParameterDir, "/", file)},
                            {"subPath", file},
                            {"readOnly", true}});
    }
  }
}

// spec.driver.licensingConfig: gridd.conf, and the NLS client token unless NLS is off, from a
// Secret when one is named (it holds a credential), else from the ConfigMap.
void MountLicensing(json& pod, json& container, const api::DriverSpec& driver) {
  if (driver.licensing_secret.empty() && driver.licensing_config_map.empty()) return;
  json items = json::array({{{"key", kGriddConf}, {"path", kGriddConf}}});
  SetMount(container, {{"name", "licensing-config"},
                       {"mountPath", kGriddConfPath},
                       {"subPath", kGriddConf},
                       {"readOnly", true}});
  if (driver.licensing_nls_enabled) {
    items.push_back({{"key", kNlsToken}, {"path", kNlsToken}});
    SetMount(container, {{"name", "licensing-config"},
                         {"mountPath", kNlsTokenPath},
                         {"subPath", kNlsToken},
                         {"readOnly", true}});
  }
  json volume = {{"name", "licensing-config"}};
  if (!driver.licensing_secret.empty()) {
    volume["secret"] = {{"secretName", driver.licensing_secret}, {"items", std::move(items)}};
  } else {
    volume["configMap"] = {{"name", driver.licensing_config_map}, {"items", std::move(items)}};
  }
  SetNamed(pod, "volumes", std::move(volume));
}

// DRIVER_CONFIG_DIGEST, which NVIDIA's operator gives the driver manager and the driver: a hash
// of what decides how the driver is installed (each container's image, command, args, env and
// envFrom; the pod's volumes; the node root they are under), not of what only schedules the pod
// (labels, tolerations, priority, resources). The driver records the digest of its install in
// /run/nvidia/nvidia-driver.state; a new pod with the same digest, on a node whose module is
// loaded, needs no reinstall, and the manager skips the uninstall that would stop every GPU job.
// A change detector, not a security hash: FNV-1a 64 over the JSON, as 16 hex digits.
std::string DriverConfigDigest(const json& pod, const std::string& host_root) {
  json input = {{"hostRoot", host_root}, {"volumes", pod.value("volumes", json::array())}};
  for (const char* list : {"initContainers", "containers"}) {
    json& parts = input[list] = json::array();
    for (const json& container : pod.value(list, json::array())) {
      json part = {{"name", container.value("name", "")}};
      for (const char* key : {"image", "command", "args", "envFrom"}) {
        if (container.contains(key)) part[key] = container[key];
      }
      json& env = part["env"] = json::array();
      for (const json& variable : container.value("env", json::array())) {
        if (variable.value("name", "") != kConfigDigestEnv) env.push_back(variable);
      }
      parts.push_back(std::move(part));
    }
  }
  uint64_t hash = 14695981039346656037ULL;  // FNV-1a 64's offset basis and prime.
  for (const unsigned char byte : input.dump()) {
    hash ^= byte;
    hash *= 1099511628211ULL;
  }
  return absl::StrFormat("%016x", hash);
}

}  // namespace

absl::Status TransformDriverDaemonSet(json& daemonset, json& pod, const api::ClusterPolicy& policy,
                                      const RenderContext& context) {
  const api::DriverSpec& driver = policy.driver;
  GPUOP_RETURN_IF_ERROR(CheckDriverSpec(driver));
  // A new driver pod unloads the modules under every GPU job of the node: it is replaced only
  // when the upgrade controller (or an admin) deletes the old one, never by a rolling update.
  daemonset["spec"]["updateStrategy"] = {{"type", "OnDelete"}};
  // It installs the driver the NVIDIA runtime needs; it cannot run under that runtime.
  pod.erase("runtimeClassName");
  GPUOP_RETURN_IF_ERROR(TransformManager(pod, driver));
  for (const DriverSidecar& sidecar : kDriverSidecars) {
    if (!policy.OperandEnabled(sidecar.spec_key)) RemoveNamed(pod, "containers", sidecar.container);
  }
  if (!driver.rdma_enabled) {
    RemoveNamed(pod, "containers", kPeermemContainer);
  } else if (driver.rdma_use_host_mofed) {
    // nvidia-peermem is built against the MOFED sources the host's own MOFED installed.
    SetHostPath(pod, "mlnx-ofed-usr-src", "/usr/src");
  }
  json* main = FindNamed(pod, "containers", kDriverContainer);
  if (main == nullptr) {
    return absl::InternalError(absl::StrCat("state-driver: the DaemonSet has no container ",
                                            kDriverContainer, " to transform"));
  }
  json* peermem = FindNamed(pod, "containers", kPeermemContainer);
  SetEnv(*main, "KERNEL_MODULE_TYPE", driver.kernel_module_type);
  if (driver.kernel_module_type == "open") {
    SetEnv(*main, "OPEN_KERNEL_MODULES_ENABLED", "true");
  } else {
    EraseEnv(*main, "OPEN_KERNEL_MODULES_ENABLED");
  }
  if (driver.rdma_enabled) {
    SetEnv(*main, "GPU_DIRECT_RDMA_ENABLED", "true");
    if (driver.rdma_use_host_mofed) {
      SetEnv(*main, "USE_HOST_MOFED", "true");
      if (peermem != nullptr) SetEnv(*peermem, "USE_HOST_MOFED", "true");
    }
  }
  // The sidecars' own section: env, args and pull secrets, as the common transform gives the
  // driver container spec.driver's. They fetch packages as the driver does, so they get its
  // repository and certificate folders too.
  std::vector<json*> builders = {main};
  for (const DriverSidecar& sidecar : kDriverSidecars) {
    json* container = FindNamed(pod, "containers", sidecar.container);
    if (container == nullptr) continue;
    SetEnv(*main, sidecar.flag, "true");
    builders.push_back(container);
    const api::OperandSpec* spec = policy.Operand(sidecar.spec_key);
    if (spec == nullptr) continue;
    SetEnvList(*container, spec->env);
    if (!spec->args.empty()) (*container)["args"] = spec->args;
    if (spec->resources.is_object()) (*container)["resources"] = spec->resources;
    AddPullSecrets(pod, spec->image_pull_secrets);
  }
  const OsFamily family = FamilyOf(context.driver_os_tag);
  for (json* builder : builders) {
    if (!driver.repo_config_map.empty()) {
      MountConfigMapDir(pod, *builder, "repo-config", driver.repo_config_map, RepoDir(family));
    }
    if (!driver.cert_config_name.empty()) {
      MountConfigMapDir(pod, *builder, "cert-config", driver.cert_config_name, CertDir(family));
    }
  }
  if (!driver.kernel_module_config_name.empty()) {
    MountModuleParameters(pod, driver.kernel_module_config_name, {main, peermem});
  }
  MountLicensing(pod, *main, driver);
  // spec.driver.env last, as for the other operands: an admin's value wins over ours.
  if (const api::OperandSpec* spec = policy.Operand("driver")) SetEnvList(*main, spec->env);
  // Over everything above, the admin's env included.
  const std::string digest = DriverConfigDigest(pod, policy.host_root_fs);
  SetEnv(*main, kConfigDigestEnv, digest);
  SetEnv(*FindNamed(pod, "initContainers", kManagerContainer), kConfigDigestEnv, digest);
  return absl::OkStatus();
}

}  // namespace gpuop::op
