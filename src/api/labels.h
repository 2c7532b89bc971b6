#pragma once

// Node label keys and values shared with NVIDIA's operator and its node agents
// (reference/gpu-operator.md §2). Values other agents write into deploy labels to pause an
// operand are theirs; we only read them (node_routing.h).

#include <string_view>

namespace gpuop::api {

inline constexpr char kWorkloadConfigLabel[] = "nvidia.com/gpu.workload.config";
inline constexpr char kWorkloadContainer[] = "container";
inline constexpr char kWorkloadVmPassthrough[] = "vm-passthrough";
inline constexpr char kWorkloadVmVgpu[] = "vm-vgpu";

// "true" on a GPU node; the operator writes it from NFD's PCI labels (§2.2).
inline constexpr char kGpuPresentLabel[] = "nvidia.com/gpu.present";
// "false" takes every operand off the node.
inline constexpr char kDeployOperandsLabel[] = "nvidia.com/gpu.deploy.operands";
// Every label NVIDIA's components (and ours) own starts with this.
inline constexpr char kNvidiaLabelPrefix[] = "nvidia.com/";
// Prefix of the per-operand deploy labels: nvidia.com/gpu.deploy.<operand>.
inline constexpr char kDeployLabelPrefix[] = "nvidia.com/gpu.deploy.";

// NFD's labels for an NVIDIA PCI device (vendor, and display classes 0300/0302).
inline constexpr const char* kNfdNvidiaPciLabels[] = {
    "feature.node.kubernetes.io/pci-10de.present",
    "feature.node.kubernetes.io/pci-0302_10de.present",
    "feature.node.kubernetes.io/pci-0300_10de.present",
};
// Every NFD label starts so; a node with any runs NFD, which then decides gpu.present.
inline constexpr char kNfdLabelPrefix[] = "feature.node.kubernetes.io/";

inline constexpr char kMigCapableLabel[] = "nvidia.com/mig.capable";
inline constexpr char kGpuProductLabel[] = "nvidia.com/gpu.product";
inline constexpr char kVgpuHostDriverVersionLabel[] = "nvidia.com/vgpu.host-driver-version";

// The operand names of the deploy labels.
namespace operand {
inline constexpr char kDriver[] = "driver";
inline constexpr char kGpuFeatureDiscovery[] = "gpu-feature-discovery";
inline constexpr char kContainerToolkit[] = "container-toolkit";
inline constexpr char kDevicePlugin[] = "device-plugin";
inline constexpr char kDcgm[] = "dcgm";
inline constexpr char kDcgmExporter[] = "dcgm-exporter";
inline constexpr char kNodeStatusExporter[] = "node-status-exporter";
inline constexpr char kOperatorValidator[] = "operator-validator";
inline constexpr char kMigManager[] = "mig-manager";
inline constexpr char kClient[] = "client";
inline constexpr char kSandboxDevicePlugin[] = "sandbox-device-plugin";
inline constexpr char kKataSandboxDevicePlugin[] = "kata-sandbox-device-plugin";
inline constexpr char kSandboxValidator[] = "sandbox-validator";
inline constexpr char kVfioManager[] = "vfio-manager";
inline constexpr char kKataManager[] = "kata-manager";
inline constexpr char kCcManager[] = "cc-manager";
inline constexpr char kVgpuManager[] = "vgpu-manager";
inline constexpr char kVgpuDeviceManager[] = "vgpu-device-manager";
}  // namespace operand

// Whether a deploy label's value still wants its operand on the node: "true", or a value the CC
// manager wrote to pause the operand around a mode switch ("paused-for-cc-mode-change", or
// "<value>_paused-for-cc-mode-change"), which it sets back afterwards. An agent that stops
// while its label says so is restarting (a rollout, a crash, a pause) and keeps its host changes;
// one whose label is gone or anything else (a workload change, helm uninstall) takes them out.
constexpr bool DeployLabelKeepsOperand(std::string_view value) {
  return value == "true" || value.find("paused") != std::string_view::npos;
}

// Every operand with a deploy label, for removing them all.
inline constexpr const char* kAllDeployOperands[] = {
    operand::kDriver,
    operand::kGpuFeatureDiscovery,
    operand::kContainerToolkit,
    operand::kDevicePlugin,
    operand::kDcgm,
    operand::kDcgmExporter,
    operand::kNodeStatusExporter,
    operand::kOperatorValidator,
    operand::kMigManager,
    operand::kClient,
    operand::kSandboxDevicePlugin,
    operand::kKataSandboxDevicePlugin,
    operand::kSandboxValidator,
    operand::kVfioManager,
    operand::kKataManager,
    operand::kCcManager,
    operand::kVgpuManager,
    operand::kVgpuDeviceManager,
};

// Ours, on each node the kata manager serves: {"<runtime class>": "<manifest digest>"} of the
// artifacts installed there, so an admin can see what a node runs without logging in.
inline constexpr char kKataArtifactsAnnotation[] = "gpuop.io/kata-artifacts";

}  // namespace gpuop::api
