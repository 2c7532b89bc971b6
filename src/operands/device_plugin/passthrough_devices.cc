#include "operands/device_plugin/passthrough_devices.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>
#include <tuple>

#include "absl/strings/str_cat.h"

#include "host/kernel_modules.h"
#include "host/pci_device.h"

namespace gpuop::operands {
namespace {

constexpr char kIommuDevice[] = "/dev/iommu";
constexpr char kVfioContainer[] = "/dev/vfio/vfio";

// The host path of the directory above the device's in /sys/devices.
std::string UpstreamPort(const host::HostRoot& root, const std::string& address) {
  std::error_code error;
  const std::filesystem::path real = std::filesystem::canonical(
      root.Path(absl::StrCat(host::kPciDevicesDir, "/", address)), error);
  if (error) return "";
  std::string parent = real.parent_path().string();
  if (!root.Root().empty() && root.Root() != "/" && parent.starts_with(root.Root())) {
    parent = parent.substr(root.Root().size());
  }
  return parent;
}

std::string ResourceOf(const host::PciDevice& gpu, const host::PciIds* ids,
                       const DiscoveryOptions& options) {
  if (!options.alias.empty()) return absl::StrCat(options.resource_domain, "/", options.alias);
  const std::string name = ids != nullptr ? ids->DeviceName(gpu.vendor, gpu.device) : "";
  return absl::StrCat(options.resource_domain, "/", host::ResourceNameFor(name, gpu.device));
}

// The first reason the group cannot go to a VM, or empty.
std::string GroupProblem(const host::PciDevice& gpu,
                         const std::vector<const host::PciDevice*>& members) {
  if (!host::IsVfioDriver(gpu.driver)) {
    return gpu.driver.empty() ? "on no driver, not on vfio-pci"
                              : absl::StrCat("on ", gpu.driver, ", not on vfio-pci");
  }
  for (const host::PciDevice* member : members) {
    if (member->IsPciBridge() || host::IsVfioDriver(member->driver) || member->driver.empty()) {
      continue;
    }
    return absl::StrCat("IOMMU group ", *gpu.iommu_group, " member ", member->address, " is on ",
                        member->driver, ": a VM cannot open the group");
  }
  return "";
}

}  // namespace

std::vector<PassthroughDevice> DiscoverPassthroughDevices(const host::HostRoot& root,
                                                          const host::PciIds* ids,
                                                          const DiscoveryOptions& options) {
  const host::PciScan scan = host::ScanPciDevices(root);
  const std::map<int, std::vector<const host::PciDevice*>> groups = host::DevicesByIommuGroup(scan);
  // iommufd when the kernel offers it and the vfio devices have character devices (kernel
  // >= 6.6 with CONFIG_VFIO_DEVICE_CDEV); Kata's confidential shims need this form.
  const bool iommufd = root.Exists(kIommuDevice) && root.Exists("/dev/vfio/devices");

  std::vector<PassthroughDevice> devices;
  for (const host::PciDevice& gpu : scan.devices) {
    if (!gpu.IsNvidiaGpu() || !gpu.iommu_group) continue;
    const auto group = groups.find(*gpu.iommu_group);
    const std::vector<const host::PciDevice*> members =
        group == groups.end() ? std::vector<const host::PciDevice*>{} : group->second;

    PassthroughDevice device;
    device.address = gpu.address;
    device.iommu_group = *gpu.iommu_group;
    device.resource = ResourceOf(gpu, ids, options);
    device.numa_node = gpu.numa_node;
    device.upstream_port = UpstreamPort(root, gpu.address);
    device.group_addresses.push_back(gpu.address);
    for (const host::PciDevice* member : members) {
      if (member->address != gpu.address && !member->IsPciBridge()) {
        device.group_addresses.push_back(member->address);
      }
    }
    device.problem = GroupProblem(gpu, members);

    if (iommufd) {
      // Without a vfio driver there is no vfioN and so no ID: the device is left out, and the
      // caller's KeepVanished reports the one it knew as unhealthy.
      if (!gpu.vfio_device) continue;
      device.id = std::to_string(*gpu.vfio_device);
      // One character device per function: the VM gets the whole group, as with a group node.
      device.device_nodes = {absl::StrCat("/dev/vfio/devices/vfio", *gpu.vfio_device)};
      for (const host::PciDevice* member : members) {
        if (member->address != gpu.address && member->vfio_device) {
          device.device_nodes.push_back(
              absl::StrCat("/dev/vfio/devices/vfio", *member->vfio_device));
        }
      }
      device.device_nodes.push_back(kIommuDevice);
    } else {
      device.id = std::to_string(*gpu.iommu_group);
      device.device_nodes = {kVfioContainer, absl::StrCat("/dev/vfio/", *gpu.iommu_group)};
    }
    if (device.problem.empty()) {
      for (const std::string& node : device.device_nodes) {
        if (!root.Exists(node)) {
          device.problem = absl::StrCat(node, " does not exist");
          break;
        }
      }
    }
    device.healthy = device.problem.empty();
    devices.push_back(std::move(device));
  }
  return devices;
}

std::vector<PassthroughDevice> KeepVanished(std::vector<PassthroughDevice> now,
                                            const std::vector<PassthroughDevice>& before) {
  for (const PassthroughDevice& old : before) {
    const bool still_there = std::any_of(now.begin(), now.end(), [&](const PassthroughDevice& d) {
      // Back under another ID (a new vfioN) counts as there: the old ID is dropped then.
      return (d.resource == old.resource && d.id == old.id) || d.address == old.address;
    });
    if (still_there) continue;
    PassthroughDevice vanished = old;
    vanished.healthy = false;
    vanished.problem = "no longer found on a vfio driver (unbound or removed from the PCI bus)";
    now.push_back(std::move(vanished));
  }
  std::sort(now.begin(), now.end(), [](const PassthroughDevice& a, const PassthroughDevice& b) {
    return std::tie(a.resource, a.address) < std::tie(b.resource, b.address);
  });
  return now;
}

}  // namespace gpuop::operands
