#include "operator/checked_configs.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "api/labels.h"
#include "operator/device_plugin_config_check.h"
#include "operator/mig_config_check.h"
#include "operator/mig_manager_operand.h"

namespace gpuop::op {
namespace {

std::string ConfigMapName(const std::string& operator_namespace, const std::string& name) {
  return absl::StrCat("ConfigMap ", operator_namespace, "/", name);
}

bool DevicePluginConfigNamed(const api::ClusterPolicy& policy) {
  return !policy.device_plugin_config_name.empty() &&
         (policy.OperandEnabled("devicePlugin", true) || policy.OperandEnabled("gfd", true));
}

bool AdminMigConfigNamed(const api::ClusterPolicy& policy) {
  return policy.OperandEnabled("migManager", true) &&
         MigConfigMapName(policy) != kDefaultMigConfigMap;
}

// The config-manager (the plugin's and GFD's init container and sidecar) stops when the copy
// holds no config at all, or lacks the one a node's label or the policy's default names; the
// pod then never starts. A name the copy cannot serve from the admin's text gets the plugin's
// built-in config instead, so the node runs as with no config.
void KeepUsable(ConfigData& copy, const std::string& fallback,
                const std::map<std::string, ConfigPick>& picked) {
  if (!fallback.empty() && !copy.contains(fallback)) copy[fallback] = kBuiltInDevicePluginConfig;
  for (const auto& [name, pick] : picked) {
    if (!copy.contains(name)) copy[name] = kBuiltInDevicePluginConfig;
  }
  if (copy.empty()) copy["default"] = kBuiltInDevicePluginConfig;
}

// "node gpu-1 picks nvidia.com/mig.config=x", "nodes gpu-1 and others pick ...". No count: the
// text is the Event's, told once, and a node joining must not make it news again.
std::string PickedBy(const ConfigPick& pick, const char* label, const std::string& name) {
  const std::string who = pick.nodes == 1
                              ? absl::StrCat("node ", pick.first_node, " picks")
                              : absl::StrCat("nodes ", pick.first_node, " and others pick");
  return absl::StrCat(who, " ", label, "=", name);
}

void CheckDevicePluginConfigs(const api::ClusterPolicy& policy, const std::string& ns,
                              const ConfigMapLookup& lookup, const ContainerNodeFacts& nodes,
                              CheckedConfigs& checked) {
  const std::map<std::string, ConfigPick>& picked = nodes.device_plugin_configs;
  const std::string& name = policy.device_plugin_config_name;
  const std::string shown = ConfigMapName(ns, name);
  const auto problem = [&](std::string message) {
    checked.problems.push_back({kInvalidDevicePluginConfig, std::move(message)});
  };
  if (name == kCheckedDevicePluginConfigs) {
    problem(absl::StrCat("spec.devicePlugin.config.name: ", shown,
                         " is the operator's checked copy; name the ConfigMap of your own"));
    checked.device_plugin = ConfigData{};
    return;
  }
  const ConfigData last_good = lookup(kCheckedDevicePluginConfigs).value_or(ConfigData{});
  const std::optional<ConfigData> admin = lookup(name);
  if (!admin) {
    problem(absl::StrCat(shown, " (spec.devicePlugin.config.name) does not exist",
                         last_good.empty()
                             ? ": the device plugin and GFD run with their built-in config"
                             : ": the device plugin and GFD keep the configs they had"));
    checked.device_plugin = last_good;
    KeepUsable(*checked.device_plugin, policy.device_plugin_config_default, picked);
    return;
  }
  ConfigData good;
  for (const auto& [key, text] : *admin) {
    const absl::StatusOr<DevicePluginConfigSummary> summary = CheckDevicePluginConfig(text);
    absl::Status check = summary.status();
    if (summary.ok() && summary->sharing == "mps") {
      // The policy's MIG strategy reaches the plugin as MIG_STRATEGY, which wins over the
      // config's flag; the plugin refuses MPS beside the mixed strategy.
      const std::string strategy =
          policy.mig_strategy.empty() ? summary->mig_strategy : policy.mig_strategy;
      if (strategy == "mixed") {
        check = absl::InvalidArgumentError(
            "sharing.mps: the device plugin refuses MPS with MIG strategy mixed (spec.mig.strategy "
            "or flags.migStrategy)");
      }
    }
    if (check.ok()) {
      good[key] = text;
      continue;
    }
    const auto before = last_good.find(key);
    const bool kept = before != last_good.end() && before->second != kBuiltInDevicePluginConfig &&
                      CheckDevicePluginConfig(before->second).ok();
    // (A last good MPS config under a policy now mixed is kept: the plugin's refusal then says
    // so in its own log, and the status here already names the policy.)
    good[key] = kept ? before->second : kBuiltInDevicePluginConfig;
    problem(absl::StrCat(shown, ", config \"", key, "\": ", check.message(),
                         kept ? " (the last good version stays in use)"
                              : " (nodes that pick it get the plugin's built-in config)"));
  }
  const std::string& fallback = policy.device_plugin_config_default;
  if (!fallback.empty() && !admin->contains(fallback)) {
    std::vector<std::string> keys;
    for (const auto& [key, text] : *admin) keys.push_back(key);
    problem(absl::StrCat("spec.devicePlugin.config.default \"", fallback, "\" is not a config of ",
                         shown, " (", keys.empty() ? "it has none" : absl::StrJoin(keys, ", "),
                         "): nodes without a ", api::kDevicePluginConfigLabel,
                         " label get the plugin's built-in config"));
  }
  if (admin->empty()) {
    problem(absl::StrCat(shown,
                         " holds no configs: the device plugin and GFD run with their "
                         "built-in config"));
  }
  // A name the copy served stays in it after the admin removed it from the ConfigMap, as it
  // last was: the config-manager of a node that still picks it would stop on a missing one, and
  // the picks are known only once the node label controller has seen every node (not so just
  // after the operator starts).
  for (const auto& [key, text] : last_good) {
    if (!admin->contains(key)) good.emplace(key, text);
  }
  for (const auto& [picked_name, pick] : picked) {
    if (admin->empty() || admin->contains(picked_name)) continue;
    const auto kept = good.find(picked_name);
    const bool last_good_kept = kept != good.end() && kept->second != kBuiltInDevicePluginConfig;
    problem(absl::StrCat(PickedBy(pick, api::kDevicePluginConfigLabel, picked_name),
                         ", which is not a config of ", shown,
                         last_good_kept
                             ? ": the device plugin and GFD there keep its last good version"
                             : ": the device plugin and GFD there run with their built-in config"));
  }
  KeepUsable(good, fallback, picked);
  checked.device_plugin = std::move(good);
}

void CheckAdminMigConfig(const api::ClusterPolicy& policy, const std::string& ns,
                         const ConfigMapLookup& lookup, const ContainerNodeFacts& nodes,
                         CheckedConfigs& checked) {
  const std::string& name = policy.mig_config_name;
  const std::string shown = ConfigMapName(ns, name);
  const auto problem = [&](std::string message) {
    checked.problems.push_back({kInvalidMigConfig, std::move(message)});
  };
  if (name == kCheckedMigConfig) {
    problem(absl::StrCat("spec.migManager.config.name: ", shown,
                         " is the operator's checked copy; name the ConfigMap of your own"));
    checked.mig = ConfigData{};
    return;
  }
  const ConfigData last_good = lookup(kCheckedMigConfig).value_or(ConfigData{});
  const char* keeps = last_good.empty() ? ": the MIG manager has no layouts to apply"
                                        : ": the MIG manager keeps the layouts it had";
  const std::optional<ConfigData> admin = lookup(name);
  if (!admin) {
    problem(absl::StrCat(shown, " (spec.migManager.config.name) does not exist", keeps));
    checked.mig = last_good;
    return;
  }
  const auto text = admin->find(kMigConfigKey);
  if (text == admin->end()) {
    problem(absl::StrCat(shown, " has no key ", kMigConfigKey, keeps));
    checked.mig = last_good;
    return;
  }
  const absl::StatusOr<std::set<std::string>> layouts = CheckMigConfig(text->second);
  if (!layouts.ok()) {
    problem(absl::StrCat(shown, ", ", kMigConfigKey, ": ", layouts.status().message(), keeps));
    checked.mig = last_good;
    return;
  }
  checked.mig = ConfigData{{kMigConfigKey, text->second}};
  // Only against the admin's layouts: with the operator's default, NVIDIA's manager first
  // generates layouts from the GPUs it finds, which may have names the default lacks.
  for (const auto& [picked_name, pick] : nodes.mig_configs) {
    if (layouts->contains(picked_name)) continue;
    problem(absl::StrCat(PickedBy(pick, api::kMigConfigLabel, picked_name),
                         ", which is not a layout of ", shown,
                         ": the MIG manager there will report nvidia.com/mig.config.state=failed"));
  }
}

}  // namespace

ConfigData ProjectConfigMapData(kube::JsonElement object) {
  ConfigData data;
  kube::JsonElement fields;
  simdjson::dom::object items;
  if (!kube::ElementAt(object, {"data"}, fields) || fields.get(items) != simdjson::SUCCESS) {
    return data;
  }
  for (const auto field : items) {
    std::string_view value;
    if (field.value.get(value) == simdjson::SUCCESS) data.emplace(field.key, value);
  }
  return data;
}

CheckedConfigs CheckOperandConfigs(const api::ClusterPolicy& policy,
                                   const std::string& operator_namespace,
                                   const ConfigMapLookup& lookup, const ContainerNodeFacts& nodes) {
  CheckedConfigs checked;
  if (DevicePluginConfigNamed(policy)) {
    CheckDevicePluginConfigs(policy, operator_namespace, lookup, nodes, checked);
  }
  if (AdminMigConfigNamed(policy)) {
    CheckAdminMigConfig(policy, operator_namespace, lookup, nodes, checked);
  }
  return checked;
}

bool IsCheckedConfigSource(const api::ClusterPolicy& policy, const std::string& name) {
  if (DevicePluginConfigNamed(policy) &&
      (name == policy.device_plugin_config_name || name == kCheckedDevicePluginConfigs)) {
    return true;
  }
  return AdminMigConfigNamed(policy) &&
         (name == policy.mig_config_name || name == kCheckedMigConfig);
}

}  // namespace gpuop::op
