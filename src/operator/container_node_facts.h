#pragma once

// What the container path's operands are rendered from besides the ClusterPolicy: facts of the
// GPU nodes, as NVIDIA's operator reads them from the Nodes on each pass. The driver image's tag
// ends in the OS of the first GPU node (nvcr.io/nvidia/driver:595.91.07-ubuntu24.04), which
// NFD's os_release labels give; and a driver DaemonSet is only worth an error when some node
// would run it.

#include <map>
#include <set>
#include <string>
#include <string_view>

namespace gpuop::op {

// NFD's os_release labels: the OS's ID ("ubuntu") and VERSION_ID ("24.04").
inline constexpr char kNfdOsIdLabel[] = "feature.node.kubernetes.io/system-os_release.ID";
inline constexpr char kNfdOsVersionLabel[] =
    "feature.node.kubernetes.io/system-os_release.VERSION_ID";
// NFD's full kernel release ("5.15.0-105-generic"): precompiled driver images are built per
// kernel, so spec.driver.usePrecompiled runs one driver DaemonSet per value of it.
inline constexpr char kNfdKernelLabel[] = "feature.node.kubernetes.io/kernel-version.full";

// "ubuntu24.04", "rhel9" (rhel, rocky and ol keep only the major version, as NVIDIA tags their
// driver images); "" when either part is missing.
std::string OsTagOf(std::string_view id, std::string_view version_id);

// The toolkit's RUNTIME for a Node's status.nodeInfo.containerRuntimeVersion, as NVIDIA's
// operator reads it: "containerd://1.7.2" -> "containerd", "cri-o://1.30.4" -> "crio",
// "docker://24.0.7" -> "docker"; "" for anything else.
std::string ContainerRuntimeOf(std::string_view runtime_version);

// The container GPU nodes whose label picks one named config: how many, and the first by name
// (for a message that names one).
struct ConfigPick {
  int nodes = 0;
  std::string first_node;
  bool operator==(const ConfigPick&) const = default;
};

struct ContainerNodeFacts {
  std::string driver_os_tag;  // Of the first GPU node (by name) that has one.
  // Whether any GPU node is routed to the container workload; not how many. The operand
  // controller renders again whenever these facts change, and what it renders depends only on
  // whether there are any: a count made every joining node a render and a round of lists of
  // every operand kind (24-28 renders while 5,000 Nodes were labelled; docs/benchmarks.md).
  bool any_container_gpu_node = false;
  // The kernels of the GPU nodes routed to the container workload, each with the OS tags of
  // the nodes that run it ("" for a node without NFD's os_release labels), and how many such
  // nodes have no kernel label.
  std::map<std::string, std::set<std::string>> container_kernels;
  int container_nodes_without_kernel = 0;
  // The first container GPU node by name: the container runtime the toolkit configures is read
  // from its Node's status.nodeInfo (ContainerRuntimeOf), which the metadata-only node cache
  // does not hold.
  std::string first_container_node;
  // The configs the container GPU nodes' labels pick by name: nvidia.com/device-plugin.config
  // (a config of spec.devicePlugin.config.name) and nvidia.com/mig.config (a MIG layout), so
  // that a name the ConfigMap lacks is reported before the operand there fails on it.
  std::map<std::string, ConfigPick> device_plugin_configs;
  std::map<std::string, ConfigPick> mig_configs;
  bool operator==(const ContainerNodeFacts&) const = default;
};

}  // namespace gpuop::op
