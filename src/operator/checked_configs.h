#pragma once

// The admin's configs for NVIDIA's operands, checked before an operand reads them: the device
// plugin's named configs (spec.devicePlugin.config.name, which GFD and the MPS daemon share) and
// the MIG manager's layouts (spec.migManager.config.name). The operands never mount the admin's
// ConfigMap itself but a copy the operator keeps, holding each config that passed its check
// (CheckDevicePluginConfig, CheckMigConfig) and, for one that did not, the last version that
// did. So a typo costs nothing running: the plugin keeps sharing as before, and the admin reads
// why in the ClusterPolicy's status and an Event. NVIDIA's operator mounts the admin's ConfigMap
// as is, and a bad edit takes the plugin down at its next restart.
//
//   CheckedConfigs checked = CheckOperandConfigs(policy, namespace_, lookup);
//   context.checked_device_plugin_configs = checked.device_plugin;  // rendered into the copy

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/cluster_policy.h"
#include "kube/json_element.h"
#include "operator/container_node_facts.h"
#include "operator/policy_status.h"

namespace gpuop::op {

// The copies, in the operator's namespace (deployments/operands/pre-requisites and
// state-mig-manager).
inline constexpr char kCheckedDevicePluginConfigs[] = "nvidia-device-plugin-checked-configs";
inline constexpr char kCheckedMigConfig[] = "nvidia-mig-manager-checked-config";

// What the copy holds under a config name it cannot serve from the admin's ConfigMap (a config
// that never passed, a missing default, no configs at all): the plugin's built-in settings.
inline constexpr char kBuiltInDevicePluginConfig[] = "version: v1\n";

// The ClusterPolicy status reasons and Event reasons of a config that failed its check.
inline constexpr char kInvalidDevicePluginConfig[] = "InvalidDevicePluginConfig";
inline constexpr char kInvalidMigConfig[] = "InvalidMigConfig";

using ConfigData = std::map<std::string, std::string>;
// A ConfigMap of the operator's namespace by name: its data, or nullopt when there is none.
using ConfigMapLookup = std::function<std::optional<ConfigData>(const std::string& name)>;

struct CheckedConfigs {
  // The data each copy is to hold; nullopt where the policy names no ConfigMap of the admin's
  // (the copy is then not rendered).
  std::optional<ConfigData> device_plugin;
  std::optional<ConfigData> mig;
  std::vector<ConfigProblem> problems;
  bool operator==(const CheckedConfigs&) const = default;
};

// The data of a ConfigMap as the API returns it, for the operator's cache (binaryData is left
// out: no operand config is binary).
ConfigData ProjectConfigMapData(kube::JsonElement object);

// `nodes` says which configs the container nodes' labels pick: a name the admin's ConfigMap
// lacks is a problem too (NVIDIA's config-manager stops the plugin's pod on it, and the MIG
// manager fails the node), and the copy serves the plugin's built-in config under it.
CheckedConfigs CheckOperandConfigs(const api::ClusterPolicy& policy,
                                   const std::string& operator_namespace,
                                   const ConfigMapLookup& lookup,
                                   const ContainerNodeFacts& nodes = {});

// Whether a change to ConfigMap `name` can change what CheckOperandConfigs gives under `policy`.
bool IsCheckedConfigSource(const api::ClusterPolicy& policy, const std::string& name);

}  // namespace gpuop::op
