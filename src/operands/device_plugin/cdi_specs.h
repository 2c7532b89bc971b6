#pragma once

// The CDI specs the device plugin keeps in /var/run/cdi, one per resource it advertises: kind =
// the resource name and device names = the kubelet device IDs, because Kata's cold-plug joins
// "<resource>=<device ID>" from the Pod Resources API against these specs (kata-containers,
// src/runtime/pkg/containerd-shim-v2/device_cold_plug.go, formatCDIDevIDs; NVIDIA's
// sandbox-device-plugin names its CDI devices the same way since Feb 2026). Writing them here,
// beside the IDs, is what keeps the two from drifting apart.

#include <map>
#include <string>
#include <vector>

#include "cdi/cdi_spec.h"
#include "host/host_root.h"
#include "operands/device_plugin/passthrough_devices.h"

namespace gpuop::operands {

// resource -> its spec. Each device gets its /dev/vfio nodes (not /dev/iommu, which the VMM
// opens itself); a node that is a character device on the host is written fully specified
// (type, major, minor), so injecting it needs no stat of the host's /dev.
// `dev_root` as in GrantOptions: where the nodes lie on the host, written as their hostPath.
std::map<std::string, cdi::Spec> CdiSpecsFor(const std::vector<PassthroughDevice>& devices,
                                             const host::HostRoot& root,
                                             const std::string& dev_root = "");

}  // namespace gpuop::operands
