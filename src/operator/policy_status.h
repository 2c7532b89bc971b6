#pragma once

// The status gpuop writes on each ClusterPolicy (as NVIDIA GPU Operator v26.7's
// ClusterPolicyStatus and internal/conditions/clusterpolicy.go have it): `state` ready | notReady |
// ignored, `namespace`, and the conditions Ready and Error, always opposite, with NVIDIA's reasons
// where one fits (ReconcileFailed, OperandNotReady, NFDLabelsMissing, NoGPUNodes, Reconciled) and
// ours where none does (InvalidWorkloadConfig names the nodes with a bad
// nvidia.com/gpu.workload.config). A pure function of what the controller knows, so each case is a
// test row; lastTransitionTime moves only when a condition's status does.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gpuop::op {

// What the operand controller knows of the active policy's operands.
// An admin's config the operator did not hand to its operand as it is (checked_configs.h).
struct ConfigProblem {
  std::string reason;   // kInvalidDevicePluginConfig, kInvalidMigConfig
  std::string message;  // Names the ConfigMap, the config, the line and field, and the effect.
  bool operator==(const ConfigProblem&) const = default;
};

struct OperandFacts {
  std::string error;  // Why a state could not be applied; empty when all were.
  // Configs that failed their check: the policy is not ready until they are fixed, though the
  // operands run on the last good version.
  std::vector<ConfigProblem> config_problems;
  std::vector<std::string> not_ready;  // "nvidia-vfio-manager: 1 of 2 pods available"
  // What was left out on purpose and an admin should know, without holding readiness back:
  // "ServiceMonitor nvidia-dcgm-exporter not applied: ...".
  std::vector<std::string> notes;
  bool operator==(const OperandFacts&) const = default;
};

struct PolicyFacts {
  std::string name;
  std::string active_name;  // The policy that rules (the oldest).
  std::string parse_error;  // Why this policy's spec cannot be used; empty when it can.
  std::string operator_namespace;
  std::map<std::string, int> gpu_nodes_by_workload;
  int nodes_with_nfd_labels = 0;  // Nodes Node Feature Discovery has labelled, GPU or not.
  std::map<std::string, std::string> invalid_nodes;  // node -> its bad label value
  OperandFacts operands;
};

// The status object to write, given the one the policy has now (for transition times) and
// `now` (RFC 3339).
nlohmann::json PolicyStatus(const PolicyFacts& facts, const nlohmann::json& current_status,
                            const std::string& now);

// Whether two statuses differ in anything but lastTransitionTime: writing is needed.
bool StatusDiffers(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace gpuop::op
