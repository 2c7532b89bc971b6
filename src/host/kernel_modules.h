#pragma once

// Which vfio driver suits a device, read from the kernel's modules.alias the way the kernel
// documents for userspace (commit "PCI: Add 'override_only' field to struct pci_device_id",
// 2021): prefix the device's modalias with "vfio_", find the "alias vfio_pci:..." lines that
// match it, and take the most specific (fewest '*'). Grace Hopper GPUs get
// nvgrace_gpu_vfio_pci that way on kernels that have it; everything else gets vfio_pci.

#include <string>
#include <string_view>

#include "host/host_root.h"

namespace gpuop::host {

inline constexpr char kVfioPciModule[] = "vfio_pci";
inline constexpr char kVfioPciDriver[] = "vfio-pci";

// The module name from `modules_alias` (the file's text) for a device's `modalias`;
// kVfioPciModule when no line matches.
std::string VfioModuleFor(std::string_view modalias, std::string_view modules_alias);

// The running kernel's modules.alias under `root` (/lib/modules/<osrelease>/modules.alias), or
// empty when it cannot be read (no modules installed: the generic vfio_pci then).
std::string ReadModulesAlias(const HostRoot& root);

// The driver a module registers as. vfio_pci registers "vfio-pci"; the variant drivers use
// their module name. Which one exists is decided by the caller looking in sysfs, so both
// spellings are returned, most likely first.
std::vector<std::string> DriverNamesOfModule(std::string_view module);

// A vfio driver: vfio-pci itself or a variant (nvgrace_gpu_vfio_pci, mlx5_vfio_pci, ...).
bool IsVfioDriver(std::string_view driver);

// Whether `module` is loaded: /sys/module/<module> exists.
bool ModuleLoaded(const HostRoot& root, std::string_view module);

}  // namespace gpuop::host
