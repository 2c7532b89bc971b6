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
// imagePullPolicy, imagePullSecrets, env, resources, args), by their spec key. gds and gdrcopy
// are the driver pod's sidecars: GPUDirect Storage (nvidia-fs) and GDRCopy (gdrdrv).
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
                                                   "validator",
                                                   "gds",
                                                   "gdrcopy"};

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

// spec.driver's fields beyond the common ones (NVIDIA's DriverSpec).
struct DriverSpec {
  bool use_precompiled = false;
  std::string kernel_module_type = "auto";  // auto, open or proprietary.
  bool rdma_enabled = false;
  bool rdma_use_host_mofed = false;
  // spec.driver.manager: the k8s-driver-manager init container's image and env. Its image
  // fields empty mean NVIDIA's chart default (kDefaultDriverManagerImage).
  OperandSpec manager;
  std::string repo_config_map;            // repoConfig.configMapName
  std::string cert_config_name;           // certConfig.name
  std::string licensing_config_map;       // licensingConfig.configMapName
  std::string licensing_secret;           // licensingConfig.secretName
  bool licensing_nls_enabled = true;      // licensingConfig.nlsEnabled
  std::string kernel_module_config_name;  // kernelModuleConfig.name
};

// spec.dcgmExporter's fields beyond the common ones (NVIDIA's DCGMExporterSpec).
struct DcgmExporterSpec {
  std::string config_name;  // config.name: a ConfigMap whose dcgm-metrics.csv lists the metrics.
  bool service_monitor_enabled = false;
  std::string service_monitor_interval;        // "15s"; "" leaves Prometheus' default.
  std::string service_monitor_scrape_timeout;  // "" leaves Prometheus' default.
  bool service_monitor_honor_labels = false;
  std::map<std::string, std::string> service_monitor_additional_labels;
  nlohmann::json service_monitor_relabelings = nlohmann::json::array();  // As given.
  std::string service_type;                                              // "" is ClusterIP.
  std::string service_internal_traffic_policy;  // "" leaves the API's default (Cluster).
  bool host_pid = false;
  bool hpc_job_mapping_enabled = false;
  std::string hpc_job_mapping_dir = "/var/lib/dcgm-exporter/job-mapping";
  bool enable_pod_labels = false;
  bool enable_pod_uid = false;
  std::vector<std::string> pod_label_allowlist_regex;
  std::map<std::string, std::string> annotations;  // On the exporter's pods.
};

// NVIDIA's chart's k8s-driver-manager, used when spec.driver.manager names no image.
inline constexpr char kDefaultDriverManagerImage[] =
    "nvcr.io/nvidia/cloud-native/k8s-driver-manager:v0.12.0";

// spec.validator.{driver,toolkit,cuda,plugin}.env: each a list of {name, value}, added to the
// validator's init container of that step (and to the driver-validation init containers of the
// toolkit's DaemonSet for `driver`).
struct ValidatorStepsEnv {
  nlohmann::json driver = nlohmann::json::array();
  nlohmann::json toolkit = nlohmann::json::array();
  nlohmann::json cuda = nlohmann::json::array();
  nlohmann::json plugin = nlohmann::json::array();
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

  // The container path (NVIDIA's container-path operands).
  DriverSpec driver;
  DcgmExporterSpec dcgm_exporter;
  ValidatorStepsEnv validator_steps;
  std::string toolkit_install_dir = "/usr/local/nvidia";   // spec.toolkit.installDir
  std::string device_plugin_config_name;                   // spec.devicePlugin.config.name
  std::string device_plugin_config_default;                // spec.devicePlugin.config.default
  std::string device_plugin_mps_root = "/run/nvidia/mps";  // spec.devicePlugin.mps.root
  bool cdi_enabled = true;                                 // spec.cdi.enabled (nil: true)
  // spec.hostPaths.driverInstallDir: where the driver container publishes its root.
  std::string driver_install_dir = "/run/nvidia/driver";
  // spec.mig.strategy: none, single or mixed; "" when the policy leaves it out (NVIDIA's CRD has
  // no default; their chart and ours write single).
  std::string mig_strategy;
  // spec.migManager.config.name: the admin's ConfigMap of MIG layouts (key config.yaml); ""
  // for the operator's default-mig-parted-config.
  std::string mig_config_name;
  // spec.migManager.config.default: "all-disabled" (NVIDIA's default) labels each MIG-capable
  // container node nvidia.com/mig.config=all-disabled until the admin picks a layout; "" does not.
  std::string mig_config_default = "all-disabled";
  // spec.migManager.gpuClientsConfig.name: the admin's ConfigMap of host GPU clients; "" for
  // default-gpu-clients.
  std::string mig_gpu_clients_config_name;

  const OperandSpec* Operand(std::string_view spec_key) const;
  // The section's `enabled`, nil counting as `default_enabled`.
  bool OperandEnabled(std::string_view spec_key, bool default_enabled = false) const;
};

// InvalidArgument naming the field, e.g. `spec.sandboxWorkloads.defaultWorkload: "vm-pass" is
// not one of container, vm-passthrough, vm-vgpu`.
absl::StatusOr<ClusterPolicy> ParseClusterPolicy(const nlohmann::json& object);

}  // namespace gpuop::api
