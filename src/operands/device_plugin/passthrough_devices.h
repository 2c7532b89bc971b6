#pragma once

// The GPUs a node offers to VMs, as the sandbox device plugin advertises them to kubelet: one
// device per vfio-bound GPU, named as Kata's cold-plug path needs (kata-containers,
// src/runtime/pkg/containerd-shim-v2/device_cold_plug.go; NVIDIA sandbox-device-plugin since Feb
// 2026): the kubelet device ID is the IOMMU group number, or N of /dev/vfio/devices/vfioN when the
// node has iommufd (/dev/iommu), and the same string is the CDI device name, because Kata joins
// "<resource>=<device ID>" against the CDI spec. A pure read of the host: nothing is bound or
// written here.
//
//   std::vector<PassthroughDevice> gpus = DiscoverPassthroughDevices(root, ids, {.alias = "pgpu"});

#include <optional>
#include <string>
#include <vector>

#include "host/host_root.h"
#include "host/pci_ids.h"

namespace gpuop::operands {

inline constexpr char kHealthy[] = "Healthy";
inline constexpr char kUnhealthy[] = "Unhealthy";

struct PassthroughDevice {
  std::string id;        // Kubelet device ID and CDI device name: "38", or "3" of vfio3.
  std::string resource;  // "nvidia.com/pgpu", or "nvidia.com/GH100_H100_SXM5_80GB".
  std::string address;   // The GPU's PCI address.
  // Every function of the IOMMU group but bridges, the GPU first: a VM gets them all.
  std::vector<std::string> group_addresses;
  int iommu_group = -1;
  // Host paths a container of the VM's pod must get, in this order.
  std::vector<std::string> device_nodes;
  int numa_node = -1;  // -1: unknown.
  // The sysfs directory above the GPU's (its root port or PCIe switch port): GPUs under one
  // are close to each other, for GetPreferredAllocation.
  std::string upstream_port;
  bool healthy = false;
  std::string problem;  // Why not healthy, for the log and the node's Events.

  bool operator==(const PassthroughDevice&) const = default;
};

struct DiscoveryOptions {
  // "pgpu": every GPU as nvidia.com/pgpu (P_GPU_ALIAS). Empty: one resource per model name.
  std::string alias;
  std::string resource_domain = "nvidia.com";
};

// Every NVIDIA GPU of the node that is or was meant for passthrough, in PCI address order. A
// GPU counts once it has an IOMMU group; it is healthy only when it and the rest of its group
// are on vfio drivers and its device nodes exist. GPUs without a group (IOMMU off) cannot be
// passed through and are left out.
std::vector<PassthroughDevice> DiscoverPassthroughDevices(const host::HostRoot& root,
                                                          const host::PciIds* ids,
                                                          const DiscoveryOptions& options);

// `now` with every device of `before` that has since disappeared added back as unhealthy, so
// kubelet sees it turn Unhealthy instead of silently leaving its capacity. A device whose GPU
// is back under another ID is dropped. Sorted by resource, then address.
std::vector<PassthroughDevice> KeepVanished(std::vector<PassthroughDevice> now,
                                            const std::vector<PassthroughDevice>& before);

}  // namespace gpuop::operands
