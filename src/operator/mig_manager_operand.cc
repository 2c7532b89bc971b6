#include "operator/mig_manager_operand.h"

#include <string>

#include "absl/strings/str_cat.h"

#include "operator/checked_configs.h"
#include "operator/pod_spec_edits.h"

namespace gpuop::op {
namespace {

using nlohmann::json;

constexpr char kMigManagerContainer[] = "nvidia-mig-manager";
constexpr char kConfigVolume[] = "mig-parted-config";
constexpr char kClientsVolume[] = "gpu-clients";
// Where the config volume is mounted (state-mig-manager/0500_daemonset.yaml), and the file the
// default ConfigMap's key becomes there.
constexpr char kConfigDir[] = "/mig-parted-config";
constexpr char kDefaultConfigItem[] = "config-default.yaml";

}  // namespace

std::string_view MigConfigMapName(const api::ClusterPolicy& policy) {
  // Not a ternary: its common type would be a temporary std::string the view outlives.
  if (policy.mig_config_name.empty()) return kDefaultMigConfigMap;
  return policy.mig_config_name;
}

bool MigManagerWantsConfigMap(std::string_view name, const api::ClusterPolicy& policy) {
  if (name == kDefaultMigConfigMap) return MigConfigMapName(policy) == kDefaultMigConfigMap;
  if (name == kDefaultGpuClientsConfigMap) {
    return policy.mig_gpu_clients_config_name.empty() ||
           policy.mig_gpu_clients_config_name == kDefaultGpuClientsConfigMap;
  }
  return true;
}

absl::Status TransformMigManagerPod(json& pod, const api::ClusterPolicy& policy) {
  json* main = FindNamed(pod, "containers", kMigManagerContainer);
  json* config = FindNamed(pod, "volumes", kConfigVolume);
  json* clients = FindNamed(pod, "volumes", kClientsVolume);
  if (main == nullptr || config == nullptr || clients == nullptr) {
    return absl::InternalError(absl::StrCat("state-mig-manager: the DaemonSet lacks container ",
                                            kMigManagerContainer, " or volume ", kConfigVolume,
                                            " or ", kClientsVolume));
  }
  if (MigConfigMapName(policy) == kDefaultMigConfigMap) {
    // NVIDIA's manager generates layouts from the hardware first; ours are its fallback.
    SetEnv(*main, "DEFAULT_CONFIG_FILE", absl::StrCat(kConfigDir, "/", kDefaultConfigItem));
  } else {
    // The admin's layouts as the operator checked them (checked_configs.h), whole: the manager
    // uses them and nothing else.
    (*config)["configMap"] = {{"name", kCheckedMigConfig}};
    SetEnv(*main, "CONFIG_FILE", absl::StrCat(kConfigDir, "/", kMigConfigKey));
  }
  if (!policy.mig_gpu_clients_config_name.empty()) {
    (*clients)["configMap"]["name"] = policy.mig_gpu_clients_config_name;
  }
  if (policy.cdi_enabled) {
    // After a repartition the manager rewrites the management CDI spec for the new devices.
    SetEnv(*main, "CDI_ENABLED", "true");
    if (policy.OperandEnabled("toolkit", true)) {
      const absl::StatusOr<std::string> install_dir =
          HostPathValue(policy.toolkit_install_dir, "spec.toolkit.installDir");
      if (!install_dir.ok()) return install_dir.status();
      SetEnv(*main, "NVIDIA_CDI_HOOK_PATH",
             absl::StrCat(*install_dir == "/" ? "" : *install_dir, "/toolkit/nvidia-cdi-hook"));
    }
  }
  // The section's env once more: an admin's value wins over ours, as NVIDIA applies it last.
  if (const api::OperandSpec* spec = policy.Operand("migManager")) SetEnvList(*main, spec->env);
  return absl::OkStatus();
}

}  // namespace gpuop::op
