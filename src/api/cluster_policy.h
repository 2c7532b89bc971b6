#pragma once

// The part of a ClusterPolicy (nvidia.com/v1, the CRD of NVIDIA GPU Operator v26.7,
// api/nvidia/v1/clusterpolicy_types.go) that gpuop honours, read from the object the API
// returns. Unknown fields are left to the object itself (the CRD preserves them); what we read
// is checked here with errors that name the field, because a policy written for NVIDIA's
// operator may use values our CRD would not have admitted (an older CRD installed by their
// chart, for instance).
//
//   GPUOP_ASSIGN_OR_RETURN(ClusterPolicy policy, ParseClusterPolicy(object));
//   if (policy.OperandEnabled(Operand::kVfioManager)) ...

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

#include "api/paths.h"

namespace gpuop::api {

// NVIDIA's CRD: the group and version to reach ClusterPolicies at, and the apiVersion and kind
// an ownerReference to one names.
inline constexpr char kClusterPolicyGroup[] = "nvidia.com";
inline constexpr char kClusterPolicyVersion[] = "v1";
inline constexpr char kClusterPolicyApiVersion[] = "nvidia.com/v1";  // Group "/" version.
inline constexpr char kClusterPolicyKind[] = "ClusterPolicy";

enum class Workload { kContainer, kVmPassthrough, kVmVgpu };
enum class SandboxMode { kKubevirt, kKata };

// "container", "vm-passthrough", "vm-vgpu" (the label and spec values); nullopt otherwise.
std::optional<Workload> ParseWorkload(std::string_view value);
std::string_view WorkloadName(Workload workload);

// The spec sections with NVIDIA's common per-operand fields (repository, image, version,
// imagePullPolicy, imagePullSecrets, env, resources, args), by their spec key.
inline constexpr const char* kOperandSpecKeys[] = {"driver",
                                                   "toolkit",
                                                   "devicePlugin",
                                                   "dcgm",
                                                   "dcgmExporter",
                                                   "gfd",
                                                   "migManager",
                                                   "nodeStatusExporter",
                                                   "vfioManager",
                                                   "vgpuManager",
                                                   "vgpuDeviceManager",
                                                   "ccManager",
                                                   "kataManager",
                                                   "sandboxDevicePlugin",
                                                   "kataSandboxDevicePlugin",
                                                   "validator"};

struct OperandSpec {
  std::optional<bool> enabled;  // nil means "the operand's default" (OperandEnabled).
  std::string repository;
  std::string image;
  std::string version;
  std::string image_pull_policy;
  std::vector<std::string> image_pull_secrets;
  nlohmann::json env = nlohmann::json::array();  // [{name, value}], as given.
  nlohmann::json resources;                      // null when not given.
  std::vector<std::string> args;
};

struct KataRuntimeClass {
  std::string name;
  std::map<std::string, std::string> node_selector;
  std::string artifacts_url;
  std::string artifacts_pull_secret;
};

// spec.daemonsets: what every operand DaemonSet gets, as in NVIDIA's CRD.
struct DaemonSetsSpec {
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  nlohmann::json tolerations;  // A list that replaces the manifests'; null keeps theirs.
  std::string priority_class_name;
  std::string update_strategy;     // "", RollingUpdate or OnDelete.
  nlohmann::json max_unavailable;  // rollingUpdate.maxUnavailable: null, a number or "N%".
};

struct ClusterPolicy {
  std::string name;
  std::string uid;
  std::string creation_timestamp;  // RFC 3339; the oldest policy is the active one.
  int64_t generation = 0;

  bool sandbox_enabled = false;
  Workload default_workload = Workload::kContainer;
  SandboxMode sandbox_mode = SandboxMode::kKubevirt;
  std::map<std::string, OperandSpec> operands;  // Only the sections the object has.
  std::string cc_default_mode;                  // "" (unset), on, off, devtools or ppcie.
  std::string kata_artifacts_dir = kDefaultKataArtifactsDir;
  std::vector<KataRuntimeClass> kata_runtime_classes;
  bool nfd_node_feature_rules = false;
  DaemonSetsSpec daemonsets;
  // spec.operator.runtimeClass: the container path's RuntimeClass (and its handler).
  std::string container_runtime_class = "nvidia";
  // spec.hostPaths.rootFS: where the node's root file system is, as the kubelet sees it. The
  // agents' host mounts (/, /sys, /dev) and the device plugin's host device paths sit under it.
  std::string host_root_fs = "/";
  // spec.psa.enabled: label the operator's namespace with Pod Security Admission's privileged
  // level (enforce, audit, warn), as NVIDIA's operator does; false leaves the labels alone.
  bool psa_enabled = false;

  const OperandSpec* Operand(std::string_view spec_key) const;
  // The section's `enabled`, nil counting as `default_enabled`.
  bool OperandEnabled(std::string_view spec_key, bool default_enabled = false) const;
};

// InvalidArgument naming the field, e.g. `spec.sandboxWorkloads.defaultWorkload: "vm-pass" is
// not one of container, vm-passthrough, vm-vgpu`.
absl::StatusOr<ClusterPolicy> ParseClusterPolicy(const nlohmann::json& object);

}  // namespace gpuop::api
