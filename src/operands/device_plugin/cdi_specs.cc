#include "operands/device_plugin/cdi_specs.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "absl/strings/match.h"

#include "operands/device_plugin/allocation.h"

namespace gpuop::operands {
namespace {

cdi::DeviceNode NodeFor(const std::string& path, const host::HostRoot& root) {
  struct stat info {};
  if (stat(root.Path(path).c_str(), &info) != 0 || !S_ISCHR(info.st_mode)) return {.path = path};
  return {.path = path,
          .type = std::string(1, 'c'),
          .major = static_cast<int64_t>(major(info.st_rdev)),
          .minor = static_cast<int64_t>(minor(info.st_rdev))};
}

}  // namespace

std::map<std::string, cdi::Spec> CdiSpecsFor(const std::vector<PassthroughDevice>& devices,
                                             const host::HostRoot& root,
                                             const std::string& dev_root) {
  std::map<std::string, cdi::Spec> specs;
  for (const PassthroughDevice& device : devices) {
    cdi::Device entry{.name = device.id};
    for (const std::string& path : device.device_nodes) {
      if (!absl::StartsWith(path, "/dev/vfio/")) continue;
      cdi::DeviceNode node = NodeFor(path, root);
      if (const std::string host_path = DeviceHostPath(dev_root, path); host_path != path) {
        node.host_path = host_path;
      }
      entry.device_nodes.push_back(std::move(node));
    }
    if (entry.device_nodes.empty()) continue;
    cdi::Spec& spec = specs[device.resource];
    spec.kind = device.resource;
    spec.devices.push_back(std::move(entry));
  }
  return specs;
}

}  // namespace gpuop::operands
