#pragma once

// What the sandbox device plugin answers kubelet, decided from the devices it advertises:
// Allocate's per-container grant (device nodes, CDI names, the PCI addresses in env) and
// GetPreferredAllocation's choice (GPUs on one NUMA node, then under one PCIe port). Pure: the
// gRPC service (device_plugin_service.h) only converts to and from the wire types.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "operands/device_plugin/passthrough_devices.h"

namespace gpuop::operands {

struct DeviceNodeGrant {
  std::string container_path;
  std::string host_path;
  std::string permissions;  // "mrw"
  bool operator==(const DeviceNodeGrant&) const = default;
};

struct ContainerGrant {
  std::vector<DeviceNodeGrant> devices;
  // PCI_RESOURCE_<RESOURCE> = the functions' addresses, comma-separated: KubeVirt's convention,
  // which NVIDIA's plugin keeps the prefix of.
  std::map<std::string, std::string> envs;
  std::vector<std::string> cdi_devices;            // "nvidia.com/pgpu=38"
  std::map<std::string, std::string> annotations;  // cdi.k8s.io/gpuop: the same, comma-separated
};

struct GrantOptions {
  // CDI names in ContainerAllocateResponse.cdi_devices: containerd then injects the spec's
  // device nodes itself. Needs CDI on in containerd (containerd 2.x refuses the container
  // otherwise); the kata manager turns it on.
  bool cdi_devices = true;
  // The older annotation form, for runtimes that read cdi.k8s.io/* annotations.
  bool cdi_annotations = true;
  // Where the device nodes' /dev lies on the host, as the kubelet and the runtime see it: the
  // ClusterPolicy's spec.hostPaths.rootFS. Empty or "/": at their own paths.
  std::string dev_root;
};

// `node` ("/dev/vfio/38") as a host path under `dev_root` (GrantOptions::dev_root).
std::string DeviceHostPath(const std::string& dev_root, const std::string& node);

// The grant for one container asking for `ids` of `resource`. InvalidArgument naming the ID
// when one is not advertised, FailedPrecondition when one is unhealthy (kubelet should not
// have chosen it).
absl::StatusOr<ContainerGrant> GrantFor(const std::string& resource,
                                        const std::vector<std::string>& ids,
                                        const std::vector<PassthroughDevice>& devices,
                                        const GrantOptions& options);

// GetPreferredAllocation for one container: `must_include` first, then `size` in all from
// `available`, preferring the NUMA node that fits the request most tightly (or the must-include
// GPU's) and, within it, GPUs under one PCIe port. IDs it does not advertise rank last.
std::vector<std::string> PreferredDevices(const std::vector<std::string>& available,
                                          const std::vector<std::string>& must_include, int size,
                                          const std::vector<PassthroughDevice>& devices);

// "PCI_RESOURCE_NVIDIA_COM_PGPU" for "nvidia.com/pgpu".
std::string PciResourceEnvName(const std::string& resource);

}  // namespace gpuop::operands
