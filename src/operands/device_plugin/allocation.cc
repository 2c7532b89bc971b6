#include "operands/device_plugin/allocation.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace gpuop::operands {
namespace {

constexpr char kPermissions[] = "mrw";
constexpr char kCdiAnnotation[] = "cdi.k8s.io/gpuop";

const PassthroughDevice* Find(const std::vector<PassthroughDevice>& devices,
                              const std::string& resource, const std::string& id) {
  for (const PassthroughDevice& device : devices) {
    if (device.resource == resource && device.id == id) return &device;
  }
  return nullptr;
}

const PassthroughDevice* FindId(const std::vector<PassthroughDevice>& devices,
                                const std::string& id) {
  for (const PassthroughDevice& device : devices) {
    if (device.id == id) return &device;
  }
  return nullptr;
}

}  // namespace

std::string DeviceHostPath(const std::string& dev_root, const std::string& node) {
  if (dev_root.empty() || dev_root == "/") return node;
  return absl::StrCat(absl::StripSuffix(dev_root, "/"), node);
}

std::string PciResourceEnvName(const std::string& resource) {
  std::string name = absl::StrCat("PCI_RESOURCE_", absl::AsciiStrToUpper(resource));
  for (char& c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

absl::StatusOr<ContainerGrant> GrantFor(const std::string& resource,
                                        const std::vector<std::string>& ids,
                                        const std::vector<PassthroughDevice>& devices,
                                        const GrantOptions& options) {
  ContainerGrant grant;
  std::set<std::string> granted_nodes;
  std::vector<std::string> addresses;
  for (const std::string& id : ids) {
    const PassthroughDevice* device = Find(devices, resource, id);
    if (device == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("allocate ", resource, "=", id, ": no such device is advertised"));
    }
    if (!device->healthy) {
      return absl::FailedPreconditionError(absl::StrCat("allocate ", resource, "=", id, " (",
                                                        device->address,
                                                        "): unhealthy: ", device->problem));
    }
    for (const std::string& node : device->device_nodes) {
      // /dev/vfio/vfio and /dev/iommu are shared by every device: granted once.
      if (granted_nodes.insert(node).second)
        grant.devices.push_back({node, DeviceHostPath(options.dev_root, node), kPermissions});
    }
    addresses.insert(addresses.end(), device->group_addresses.begin(),
                     device->group_addresses.end());
    const std::string cdi_name = absl::StrCat(resource, "=", id);
    if (options.cdi_devices) grant.cdi_devices.push_back(cdi_name);
  }
  grant.envs[PciResourceEnvName(resource)] = absl::StrJoin(addresses, ",");
  if (options.cdi_annotations && !ids.empty()) {
    std::vector<std::string> names;
    names.reserve(ids.size());
    for (const std::string& id : ids) names.push_back(absl::StrCat(resource, "=", id));
    grant.annotations[kCdiAnnotation] = absl::StrJoin(names, ",");
  }
  return grant;
}

std::vector<std::string> PreferredDevices(const std::vector<std::string>& available,
                                          const std::vector<std::string>& must_include, int size,
                                          const std::vector<PassthroughDevice>& devices) {
  std::vector<std::string> chosen;
  for (const std::string& id : must_include) {
    if (std::find(chosen.begin(), chosen.end(), id) == chosen.end()) chosen.push_back(id);
  }
  std::vector<std::string> candidates;
  for (const std::string& id : available) {
    if (std::find(chosen.begin(), chosen.end(), id) == chosen.end() &&
        std::find(candidates.begin(), candidates.end(), id) == candidates.end()) {
      candidates.push_back(id);
    }
  }
  const auto numa_of = [&](const std::string& id) {
    const PassthroughDevice* device = FindId(devices, id);
    return device != nullptr ? device->numa_node : -1;
  };
  const auto port_of = [&](const std::string& id) {
    const PassthroughDevice* device = FindId(devices, id);
    return device != nullptr ? device->upstream_port : std::string();
  };

  // The NUMA node to fill from: the first must-include device's, else the one with the fewest
  // available devices that still holds the whole request (leaving bigger ones whole for bigger
  // requests), else the one with the most.
  int anchor = -1;
  if (!chosen.empty()) {
    anchor = numa_of(chosen.front());
  } else {
    std::map<int, int> counts;
    for (const std::string& id : candidates) ++counts[numa_of(id)];
    int best_fit = -1;
    int best_fit_count = 0;
    int largest = -1;
    int largest_count = 0;
    for (const auto& [numa, count] : counts) {
      if (count >= size && (best_fit_count == 0 || count < best_fit_count)) {
        best_fit = numa;
        best_fit_count = count;
      }
      if (count > largest_count) {
        largest = numa;
        largest_count = count;
      }
    }
    anchor = best_fit_count > 0 ? best_fit : largest;
  }

  while (static_cast<int>(chosen.size()) < size && !candidates.empty()) {
    std::set<std::string> chosen_ports;
    for (const std::string& id : chosen) chosen_ports.insert(port_of(id));
    std::map<std::string, int> port_mates;  // Candidates under each port, to keep pairs whole.
    for (const std::string& id : candidates) ++port_mates[port_of(id)];
    // Best: on the anchor's NUMA node, then under a port a chosen GPU is under, then under the
    // port with the most candidates left; ties go to the earlier candidate (kubelet's order).
    const auto score = [&](const std::string& id) {
      const std::string port = port_of(id);
      return std::make_tuple(numa_of(id) == anchor, !port.empty() && chosen_ports.contains(port),
                             port.empty() ? 0 : port_mates[port]);
    };
    auto best = candidates.begin();
    for (auto it = std::next(candidates.begin()); it != candidates.end(); ++it) {
      if (score(*it) > score(*best)) best = it;
    }
    chosen.push_back(*best);
    candidates.erase(best);
  }
  return chosen;
}

}  // namespace gpuop::operands
