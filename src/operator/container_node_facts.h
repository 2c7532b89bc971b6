#pragma once

// What the container path's operands are rendered from besides the ClusterPolicy: facts of the
// GPU nodes, as NVIDIA's operator reads them from the Nodes on each pass. The driver image's tag
// ends in the OS of the first GPU node (nvcr.io/nvidia/driver:595.91.07-ubuntu24.04), which
// NFD's os_release labels give; and a driver DaemonSet is only worth an error when some node
// would run it.

#include <string>
#include <string_view>

namespace gpuop::op {

// NFD's os_release labels: the OS's ID ("ubuntu") and VERSION_ID ("24.04").
inline constexpr char kNfdOsIdLabel[] = "feature.node.kubernetes.io/system-os_release.ID";
inline constexpr char kNfdOsVersionLabel[] =
    "feature.node.kubernetes.io/system-os_release.VERSION_ID";

// "ubuntu24.04", "rhel9" (rhel, rocky and ol keep only the major version, as NVIDIA tags their
// driver images); "" when either part is missing.
std::string OsTagOf(std::string_view id, std::string_view version_id);

struct ContainerNodeFacts {
  std::string driver_os_tag;  // Of the first GPU node (by name) that has one.
  int container_gpu_nodes = 0;
  bool operator==(const ContainerNodeFacts&) const = default;
};

}  // namespace gpuop::op
