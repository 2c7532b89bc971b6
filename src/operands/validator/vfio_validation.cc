#include "operands/validator/vfio_validation.h"

#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"

#include "api/labels.h"
#include "api/paths.h"
#include "common/atomic_file.h"
#include "host/kernel_modules.h"
#include "host/pci_device.h"

namespace gpuop::operands {

absl::Status CheckGpusOnVfio(const host::HostRoot& root) {
  const host::PciScan scan = host::ScanPciDevices(root);
  if (!scan.problems.empty()) return scan.problems.front();
  std::map<int, std::vector<const host::PciDevice*>> groups = host::DevicesByIommuGroup(scan);
  int gpus = 0;
  for (const host::PciDevice& gpu : scan.devices) {
    if (!gpu.IsNvidiaGpu()) continue;
    ++gpus;
    if (!host::IsVfioDriver(gpu.driver)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "GPU ", gpu.address, " is on ", gpu.driver.empty() ? "no driver" : gpu.driver,
          ", not vfio-pci (is the vfio-manager running on this node?)"));
    }
    if (!gpu.iommu_group.has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat("GPU ", gpu.address, " has no IOMMU group (is the IOMMU on?)"));
    }
    const std::string group_node = absl::StrCat("/dev/vfio/", *gpu.iommu_group);
    if (!root.Exists(group_node)) {
      return absl::FailedPreconditionError(
          absl::StrCat("GPU ", gpu.address, ": ", group_node, " does not exist"));
    }
    for (const host::PciDevice* peer : groups[*gpu.iommu_group]) {
      if (peer->IsPciBridge() || peer->driver.empty() || host::IsVfioDriver(peer->driver)) {
        continue;
      }
      return absl::FailedPreconditionError(
          absl::StrCat("GPU ", gpu.address, ": IOMMU group ", *gpu.iommu_group, " is not viable: ",
                       peer->address, " is on ", peer->driver, " (bind it to vfio-pci too)"));
    }
  }
  if (gpus == 0) return absl::FailedPreconditionError("no NVIDIA GPU on this node");
  return absl::OkStatus();
}

absl::Status ValidateVfioPci(const host::HostRoot& root, const VfioValidationOptions& options) {
  if (options.workload != api::kWorkloadContainer &&
      options.workload != api::kWorkloadVmPassthrough && options.workload != api::kWorkloadVmVgpu) {
    return absl::InvalidArgumentError(absl::StrCat(
        "workload \"", options.workload, "\" is not one of container, vm-passthrough, vm-vgpu"));
  }
  const std::string dir = options.validations_dir + "/";
  if (absl::Status written = common::WriteFileAtomicallyCreatingFolders(
          dir + api::kWorkloadTypeFile, options.workload + "\n");
      !written.ok()) {
    return written;
  }
  if (options.workload != api::kWorkloadVmPassthrough) return absl::OkStatus();
  // Nobody may rely on an old ready file while we look.
  std::error_code ignored;
  std::filesystem::remove(dir + api::kVfioPciReadyFile, ignored);
  if (absl::Status checked = CheckGpusOnVfio(root); !checked.ok()) return checked;
  return common::WriteFileAtomically(dir + api::kVfioPciReadyFile, "");
}

}  // namespace gpuop::operands
