#pragma once

// Node label keys and values shared with NVIDIA's operator and its node agents (NVIDIA GPU
// Operator v26.7, controllers/state_manager.go and nodelabeling_controller.go), and the labels
// and annotations of ours that one component writes and another reads: every such key is
// spelled here and nowhere else in src/. Values other agents write into deploy labels to pause
// an operand are theirs; we only read them (IsPausedValue), apart from the CC manager's own
// pause (PausedValueOf).

#include <string>
#include <string_view>

namespace gpuop::api {

inline constexpr char kWorkloadConfigLabel[] = "nvidia.com/gpu.workload.config";
inline constexpr char kWorkloadContainer[] = "container";
inline constexpr char kWorkloadVmPassthrough[] = "vm-passthrough";
inline constexpr char kWorkloadVmVgpu[] = "vm-vgpu";

// "true" on a GPU node; the operator writes it from NFD's PCI labels, and "false" (not removed)
// once NFD no longer sees an NVIDIA device there, as NVIDIA's operator does.
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
// The admin's choice of MIG layout for a node (a key of the MIG manager's config), and the MIG
// manager's report on applying it: pending, rebooting, success or failed (NVIDIA's labels).
inline constexpr char kMigConfigLabel[] = "nvidia.com/mig.config";
inline constexpr char kMigConfigStateLabel[] = "nvidia.com/mig.config.state";
// The deploy label value NVIDIA's MIG manager sets on the operands that hold the GPUs while it
// repartitions them, and sets back afterwards.
inline constexpr char kPausedForMigChange[] = "paused-for-mig-change";
// GPU feature discovery's report of how the device plugin shares a node's GPUs (none,
// time-slicing or mps) and how many replicas each GPU is advertised as.
inline constexpr char kGpuSharingStrategyLabel[] = "nvidia.com/gpu.sharing-strategy";
inline constexpr char kGpuReplicasLabel[] = "nvidia.com/gpu.replicas";
// The admin's choice of device plugin config for a node: a key of spec.devicePlugin.config.name's
// ConfigMap, which the config-manager containers of the device plugin and GFD follow.
inline constexpr char kDevicePluginConfigLabel[] = "nvidia.com/device-plugin.config";

// Confidential computing, NVIDIA's labels. The admin's: the mode asked for, a CcMode's name
// (api/cc_mode.h). The CC manager's, written in one patch: the mode applied (a CcMode's name,
// kCcModeStateFailed, or absent), whether the node is ready for CC workloads ("true" for on
// and ppcie, "false" for off, "" otherwise), and whether it can do CC at all ("true" or
// "false"), which Kata runtime classes select nodes by.
inline constexpr char kCcModeLabel[] = "nvidia.com/cc.mode";
inline constexpr char kCcModeStateLabel[] = "nvidia.com/cc.mode.state";
inline constexpr char kCcReadyStateLabel[] = "nvidia.com/cc.ready.state";
inline constexpr char kCcCapableLabel[] = "nvidia.com/cc.capable";
// The kCcModeStateLabel value when the mode asked for could not be applied.
inline constexpr char kCcModeStateFailed[] = "failed";

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

// nvidia.com/gpu.deploy.<operand>.
std::string DeployLabelOf(std::string_view operand);

// The CC manager pauses an operand around a mode switch by rewriting its deploy label NVIDIA's
// way: "true" becomes kPausedForCcModeChange, any other value X but "" and "false" becomes
// "X_paused-for-cc-mode-change". The DaemonSets select "true" only, so the pods leave.
inline constexpr char kPausedForCcModeChange[] = "paused-for-cc-mode-change";

// Whether a deploy label's value is a pause: the CC manager's, or another NVIDIA agent's
// ("paused-for-<why>"), which that agent sets back afterwards. Any value with "paused" in it
// reads as one (docs/device-plugin.md says so); the operator's status and uninstall and the
// agents all ask here, so that no two of them can tell a pause apart differently.
constexpr bool IsPausedValue(std::string_view value) {
  return value.find("paused") != std::string_view::npos;
}

// The CC manager's pause of `value`: "" and "false" stay, "true" becomes
// kPausedForCcModeChange, a value it already paused stays, any other X becomes
// "X_paused-for-cc-mode-change".
std::string PausedValueOf(std::string_view value);
// The value that PausedValueOf turned into `value`; anything it did not write comes back as is.
std::string UnpausedValue(std::string_view value);

// Whether a deploy label's value still wants its operand on the node: "true", or a pause, which
// is set back afterwards. An agent that stops while its label says so is restarting (a rollout,
// a crash, a pause) and keeps its host changes; one whose label is gone or anything else (a
// workload change, helm uninstall) takes them out.
constexpr bool DeployLabelKeepsOperand(std::string_view value) {
  return value == "true" || IsPausedValue(value);
}

// The operator's hold on a GPU's next driver while the last one still has the GPUs: a node
// moving to the container path gets nvidia.com/gpu.deploy.driver=kWaitingForGpuHandOver (not
// "true", so no driver pod yet) while gpuop's VFIO manager still runs there, and one moving to
// vm-passthrough gets it on nvidia.com/gpu.deploy.vfio-manager while NVIDIA's driver container
// still runs. The operator sets "true" once the other pod is gone. The VFIO manager reads the
// driver's label as it stops: any value means the node is going to the container path, and it
// gives the GPUs back to their previous drivers (docs/operator.md, "Flips").
inline constexpr char kWaitingForGpuHandOver[] = "waiting-for-gpu-handover";

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

// Ours, on a node while the CC manager has operands paused: {"<deploy label>": "<value>"} as
// they were before, written in the patch that pauses them, so that an agent killed mid-switch
// puts them back on restart (and uninstall takes the record away with the rest).
inline constexpr char kPausedLabelsAnnotation[] = "gpuop.io/cc-paused-labels";

// Ours, on every object the operator applies: who manages it (what carries this and is no
// longer asked for is pruned), the operand state it belongs to (readiness is read per state),
// and FNV-1a 64 of the rendered object without the hash annotation (equal: nothing to apply).
inline constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
inline constexpr char kManagedByValue[] = "gpuop";
inline constexpr char kOperandStateLabel[] = "gpuop.io/state";
inline constexpr char kAppliedHashAnnotation[] = "gpuop.io/applied-hash";

}  // namespace gpuop::api
