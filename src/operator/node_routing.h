#pragma once

// Which workload a GPU node serves and which nvidia.com/gpu.deploy.<operand> labels it should
// carry: a pure function from the node's labels and the policy to the label changes, so that
// every case is a row in a table test (NVIDIA GPU Operator v26.7, controllers/state_manager.go
// and nodelabeling_controller.go: getWorkloadConfig, gpuStateLabels). The reconciler reads the
// node, calls RouteNode, and patches what it returns.
//
// Where we differ from NVIDIA's operator, on purpose:
// - An invalid nvidia.com/gpu.workload.config value takes every operand off the node and is
//   reported (invalid_workload), instead of silently falling back to the default: a typo must
//   not turn a VM node into a container node.
// - gpu.present follows NFD where NFD runs on the node (it labels every node it runs on);
//   without NFD, an admin's nvidia.com/gpu.present=true is believed.
// - In kata mode vm-vgpu nodes get no sandbox-device-plugin label (its DaemonSet never runs in
//   kata mode anyway).

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/cluster_policy.h"
#include "kube/label_set.h"

namespace gpuop::op {

// What routing reads of a ClusterPolicy.
struct RoutingPolicy {
  bool sandbox_enabled = false;
  api::Workload default_workload = api::Workload::kContainer;
  api::SandboxMode sandbox_mode = api::SandboxMode::kKubevirt;
  // spec.migManager.enabled (nil: on) and spec.migManager.config.default: with both, a
  // MIG-capable container node without a layout gets nvidia.com/mig.config=all-disabled.
  bool mig_manager_enabled = true;
  std::string mig_config_default = "all-disabled";
};
RoutingPolicy RoutingPolicyOf(const api::ClusterPolicy& policy);

// The app labels of those two DaemonSets' pods (deployments/operands/state-driver and
// state-vfio-manager): the operator watches them, and a held label names the one it waits for.
inline constexpr char kDriverPodApp[] = "nvidia-driver-daemonset";
inline constexpr char kVfioManagerPodApp[] = "nvidia-vfio-manager";

// Pods on a node that hold its GPUs with a driver: NVIDIA's driver container (the nvidia
// module) and gpuop's VFIO manager (vfio-pci), in any phase, terminating included.
struct GpuHolderPods {
  bool driver = false;
  bool vfio_manager = false;
};

struct NodeRoute {
  bool has_gpu = false;
  bool nfd_labelled = false;  // Node Feature Discovery has labelled the node (any of its labels).
  bool operands_disabled = false;         // nvidia.com/gpu.deploy.operands=false
  std::optional<api::Workload> workload;  // Unset: no GPU, or an invalid workload label.
  std::string invalid_workload;           // The label's value when it names no workload.
  // Labels to set (a value) or remove (nullopt). Empty when the node is as it should be.
  std::map<std::string, std::optional<std::string>> changes;
  // Deploy labels held at api::kWaitingForGpuHandOver, each with the pod it waits for to go.
  std::map<std::string, std::string> held;
};

// A flip between the container path and vm-passthrough hands the GPUs from one driver to the
// other: the driver's deploy label is held (api::kWaitingForGpuHandOver) while the VFIO manager
// runs on the node, and the VFIO manager's while the driver container does, so the two never
// run on one node. A label already "true" is left alone.
NodeRoute RouteNode(const kube::LabelSet& labels, const RoutingPolicy& policy,
                    const GpuHolderPods& holders = {});

// Whether a node's GPUs can run MIG, by NVIDIA's rule: the nvidia.com/mig.capable label, else a
// product known to have MIG (A100, A30, H100); never with a vGPU host driver.
bool MigCapable(const kube::LabelSet& labels);

// The labels RouteNode reads, out of all of a node's: every nvidia.com/ label, NFD's NVIDIA PCI
// labels, and of NFD's other labels only the first in key order (RouteNode asks only whether
// there is one). RouteNode gives the same route for these as for all of them; the node cache
// keeps only these, since a node that NFD labels carries a hundred labels or more. The keys
// most GPU nodes share (RoutingLabelKeys) are kept as one byte each.
const kube::CommonLabelKeys& RoutingLabelKeys();
kube::LabelSet RoutingLabels(
    const std::vector<std::pair<std::string_view, std::string_view>>& labels);

// The JSON merge patch that applies `changes` to a Node: {"metadata":{"labels":{k: v|null}}}.
nlohmann::json LabelPatch(const std::map<std::string, std::optional<std::string>>& changes);

}  // namespace gpuop::op
