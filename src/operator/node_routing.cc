#include "operator/node_routing.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

#include "api/labels.h"

namespace gpuop::op {
namespace {

namespace operand = api::operand;

constexpr char kMigConfigAllDisabled[] = "all-disabled";

bool HasLabelWithPrefix(const kube::LabelSet& labels, std::string_view prefix) {
  bool found = false;
  labels.ForEach([&](std::string_view key, std::string_view) {
    if (key.starts_with(prefix)) found = true;
  });
  return found;
}

// NVIDIA's per-workload table (gpuStateLabels), with the kata/kubevirt device plugin chosen by
// the mode.
std::set<std::string> DeployLabelsFor(api::Workload workload, const RoutingPolicy& policy,
                                      const kube::LabelSet& labels) {
  std::set<std::string> names;
  switch (workload) {
    case api::Workload::kContainer:
      names = {operand::kDriver,
               operand::kGpuFeatureDiscovery,
               operand::kContainerToolkit,
               operand::kDevicePlugin,
               operand::kDcgm,
               operand::kDcgmExporter,
               operand::kNodeStatusExporter,
               operand::kOperatorValidator,
               operand::kClient};
      if (MigCapable(labels)) names.insert(operand::kMigManager);
      break;
    case api::Workload::kVmPassthrough:
      names = {policy.sandbox_mode == api::SandboxMode::kKata ? operand::kKataSandboxDevicePlugin
                                                              : operand::kSandboxDevicePlugin,
               operand::kSandboxValidator,
               operand::kVfioManager,
               operand::kKataManager,
               operand::kCcManager,
               operand::kClient};
      break;
    case api::Workload::kVmVgpu:
      names = {operand::kVgpuManager, operand::kVgpuDeviceManager, operand::kSandboxValidator,
               operand::kCcManager, operand::kClient};
      if (policy.sandbox_mode == api::SandboxMode::kKubevirt) {
        names.insert(operand::kSandboxDevicePlugin);
      }
      break;
  }
  std::set<std::string> keys;
  for (const std::string& name : names) keys.insert(api::DeployLabelOf(name));
  return keys;
}

}  // namespace

// NVIDIA's rule: the mig.capable label, else a product known to have MIG; never with a vGPU
// host driver.
bool MigCapable(const kube::LabelSet& labels) {
  if (!labels.Get(api::kVgpuHostDriverVersionLabel).value_or("").empty()) return false;
  if (std::optional<std::string_view> capable = labels.Get(api::kMigCapableLabel)) {
    return *capable == "true";
  }
  const std::string product =
      absl::AsciiStrToLower(std::string(labels.Get(api::kGpuProductLabel).value_or("")));
  return absl::StrContains(product, "h100") || absl::StrContains(product, "a100") ||
         absl::StrContains(product, "a30");
}

RoutingPolicy RoutingPolicyOf(const api::ClusterPolicy& policy) {
  return {.sandbox_enabled = policy.sandbox_enabled,
          .default_workload = policy.default_workload,
          .sandbox_mode = policy.sandbox_mode,
          .mig_manager_enabled = policy.OperandEnabled("migManager", true),
          .mig_config_default = policy.mig_config_default};
}

NodeRoute RouteNode(const kube::LabelSet& labels, const RoutingPolicy& policy,
                    const GpuHolderPods& holders) {
  NodeRoute route;

  // gpu.present: NVIDIA's rule from NFD's PCI labels, and ours where NFD does not run.
  bool nfd_sees_gpu = false;
  for (const char* key : api::kNfdNvidiaPciLabels) {
    if (labels.Get(key) == "true") nfd_sees_gpu = true;
  }
  const std::optional<std::string_view> present = labels.Get(api::kGpuPresentLabel);
  route.nfd_labelled = nfd_sees_gpu || HasLabelWithPrefix(labels, api::kNfdLabelPrefix);
  if (nfd_sees_gpu) {
    route.has_gpu = true;
    if (present != "true") route.changes[api::kGpuPresentLabel] = "true";
  } else if (route.nfd_labelled) {
    if (present == "true") route.changes[api::kGpuPresentLabel] = "false";
  } else {
    route.has_gpu = present == "true";
  }

  std::set<std::string> wanted;
  route.operands_disabled = labels.Get(api::kDeployOperandsLabel) == "false";
  if (route.has_gpu && !route.operands_disabled) {
    if (!policy.sandbox_enabled) {
      route.workload = api::Workload::kContainer;  // Not the node label (getWorkloadConfig).
    } else if (std::optional<std::string_view> label = labels.Get(api::kWorkloadConfigLabel)) {
      route.workload = api::ParseWorkload(*label);
      if (!route.workload) route.invalid_workload = std::string(*label);
    } else {
      route.workload = policy.default_workload;
    }
    if (route.workload) wanted = DeployLabelsFor(*route.workload, policy, labels);
  }

  // NVIDIA's default layout: a MIG-capable container node starts with MIG off, which the MIG
  // manager then applies and reports; the label is the admin's once set, and never removed.
  if (wanted.contains(api::DeployLabelOf(operand::kMigManager)) && policy.mig_manager_enabled &&
      policy.mig_config_default == kMigConfigAllDisabled &&
      labels.Get(api::kMigConfigLabel).value_or("").empty()) {
    route.changes[api::kMigConfigLabel] = kMigConfigAllDisabled;
  }

  // NVIDIA's add/remove rule: known keys not wanted go, whatever their value; wanted keys are
  // added only where absent or empty, so a value another agent wrote (a pause) is left alone.
  // Ours on top: the hand-over hold, set where the label would be added and lifted by "true".
  for (const char* name : api::kAllDeployOperands) {
    const std::string key = api::DeployLabelOf(name);
    const std::optional<std::string_view> value = labels.Get(key);
    if (wanted.contains(key)) {
      const std::string_view name_view = name;
      const char* waits_for = nullptr;
      if (name_view == operand::kDriver && holders.vfio_manager) waits_for = kVfioManagerPodApp;
      if (name_view == operand::kVfioManager && holders.driver) waits_for = kDriverPodApp;
      const bool unset = !value || value->empty();
      if (waits_for != nullptr && (unset || *value == api::kWaitingForGpuHandOver)) {
        route.held[key] = waits_for;
        if (unset) route.changes[key] = api::kWaitingForGpuHandOver;
      } else if (unset || *value == api::kWaitingForGpuHandOver) {
        route.changes[key] = "true";
      }
    } else if (value) {
      route.changes[key] = std::nullopt;
    }
  }
  return route;
}

// The keys of the labels RoutingLabels keeps on most GPU nodes: ours (the deploy labels, a
// dozen or more on each), NFD's PCI labels and NVIDIA's other agents'.
const kube::CommonLabelKeys& RoutingLabelKeys() {
  // Never destroyed: the node cache's sets point at it until the process is gone.
  static const kube::CommonLabelKeys& keys = *new kube::CommonLabelKeys([] {
    std::vector<std::string> common = {api::kGpuPresentLabel,
                                       api::kWorkloadConfigLabel,
                                       api::kDeployOperandsLabel,
                                       api::kMigCapableLabel,
                                       api::kGpuProductLabel,
                                       api::kMigConfigLabel,
                                       api::kMigConfigStateLabel,
                                       api::kDevicePluginConfigLabel,
                                       api::kGpuSharingStrategyLabel,
                                       api::kGpuReplicasLabel,
                                       api::kCcModeLabel,
                                       api::kCcModeStateLabel,
                                       api::kCcReadyStateLabel,
                                       api::kCcCapableLabel,
                                       api::kVgpuHostDriverVersionLabel};
    common.insert(common.end(), std::begin(api::kNfdNvidiaPciLabels),
                  std::end(api::kNfdNvidiaPciLabels));
    for (const char* name : api::kAllDeployOperands) common.push_back(api::DeployLabelOf(name));
    return common;
  }());
  return keys;
}

kube::LabelSet RoutingLabels(
    const std::vector<std::pair<std::string_view, std::string_view>>& labels) {
  std::vector<std::pair<std::string_view, std::string_view>> kept;
  std::optional<std::pair<std::string_view, std::string_view>> first_other_nfd;
  for (const auto& pair : labels) {
    const std::string_view key = pair.first;
    if (key.starts_with(api::kNvidiaLabelPrefix)) {
      kept.push_back(pair);
    } else if (key.starts_with(api::kNfdLabelPrefix)) {
      if (std::find(std::begin(api::kNfdNvidiaPciLabels), std::end(api::kNfdNvidiaPciLabels),
                    key) != std::end(api::kNfdNvidiaPciLabels)) {
        kept.push_back(pair);
      } else if (!first_other_nfd || key < first_other_nfd->first) {
        first_other_nfd = pair;
      }
    }
  }
  if (first_other_nfd) kept.push_back(*first_other_nfd);
  return kube::LabelSet::FromPairs(std::move(kept), &RoutingLabelKeys());
}

nlohmann::json LabelPatch(const std::map<std::string, std::optional<std::string>>& changes) {
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [key, value] : changes) {
    labels[key] = value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  }
  return {{"metadata", {{"labels", labels}}}};
}

}  // namespace gpuop::op
