#include "host/vfio_binder.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"

#include "host/kernel_modules.h"

namespace gpuop::host {
namespace {

std::string DriverDir(const std::string& driver) {
  return absl::StrCat(kPciDriversDir, "/", driver);
}

std::string DeviceAttribute(const std::string& address, const char* attribute) {
  return absl::StrCat(kPciDevicesDir, "/", address, "/", attribute);
}

bool Selected(const PciDevice& device, const TargetSelection& selection) {
  if (device.vendor != selection.vendor) return false;
  if (selection.vendor != kNvidiaVendorId) return !device.IsPciBridge();
  return device.IsNvidiaGpu() || (selection.include_nvswitches && device.IsNvSwitch());
}

}  // namespace

std::string BindTarget::Reason() const {
  if (!companion_of.empty()) return "companion of " + companion_of;
  if (device.IsNvidiaGpu()) return "gpu";
  if (device.IsNvSwitch()) return "nvswitch";
  return "device";
}

std::vector<BindTarget> BindTargets(const PciScan& scan, const TargetSelection& selection) {
  std::map<std::string, BindTarget> targets;
  std::map<int, std::vector<const PciDevice*>> groups = DevicesByIommuGroup(scan);
  std::map<std::string, const PciDevice*> by_address;
  for (const PciDevice& device : scan.devices) by_address[device.address] = &device;
  for (const PciDevice& device : scan.devices) {
    if (!Selected(device, selection)) continue;
    targets.insert_or_assign(device.address, BindTarget{device, ""});
  }
  // Companions: of selected devices only, and not selected themselves.
  std::vector<BindTarget> companions;
  for (const auto& [address, target] : targets) {
    std::set<std::string> related(target.device.consumers.begin(), target.device.consumers.end());
    if (target.device.iommu_group.has_value()) {
      for (const PciDevice* peer : groups[*target.device.iommu_group]) {
        related.insert(peer->address);
      }
    }
    for (const std::string& peer_address : related) {
      const auto peer = by_address.find(peer_address);
      if (peer == by_address.end() || targets.contains(peer_address) ||
          peer->second->IsPciBridge()) {
        continue;
      }
      companions.push_back(BindTarget{*peer->second, address});
    }
  }
  for (BindTarget& companion : companions) {
    const std::string address = companion.device.address;
    targets.try_emplace(address, std::move(companion));
  }
  std::vector<BindTarget> ordered;
  ordered.reserve(targets.size());
  for (auto& [address, target] : targets) ordered.push_back(std::move(target));
  return ordered;
}

VfioBinder::VfioBinder(const HostRoot& root, Kernel& kernel, BinderOptions options)
    : root_(root), kernel_(kernel), options_(options), modules_alias_(ReadModulesAlias(root)) {}

absl::Status VfioBinder::EnsureDriverLoaded(const std::string& module, std::string& driver) {
  const auto find_driver = [&] {
    for (const std::string& name : DriverNamesOfModule(module)) {
      if (root_.Exists(DriverDir(name))) {
        driver = name;
        return true;
      }
    }
    return false;
  };
  if (find_driver()) return absl::OkStatus();
  if (absl::Status loaded = kernel_.LoadModule(module); !loaded.ok()) {
    return absl::Status(
        loaded.code(),
        absl::StrCat(
            "load module ", module, ": ", loaded.message(),
            absl::IsNotFound(loaded) ? " (are the kernel's modules installed on the host?)" : ""));
  }
  if (find_driver()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "module ", module, " is loaded but registered no PCI driver (", DriverDir(module), ")"));
}

DeviceBinding VfioBinder::Bind(const std::string& address) {
  DeviceBinding result;
  result.address = address;
  const auto fail = [&](absl::Status error) {
    result.outcome = DeviceBinding::Outcome::kFailed;
    result.error = std::move(error);
    return result;
  };

  absl::StatusOr<PciDevice> device = ReadPciDevice(root_, address);
  if (!device.ok()) return fail(device.status());
  result.previous_driver = device->driver;
  if (IsVfioDriver(device->driver)) {
    result.driver = device->driver;
    result.outcome = DeviceBinding::Outcome::kAlreadyBound;
    return result;
  }

  const std::string module = VfioModuleFor(device->modalias, modules_alias_);
  result.driver = DriverNamesOfModule(module).front();
  if (absl::Status loaded = EnsureDriverLoaded(module, result.driver); !loaded.ok()) {
    return fail(absl::Status(loaded.code(), absl::StrCat("bind ", address, " to ", result.driver,
                                                         ": ", loaded.message())));
  }
  const std::string what = absl::StrCat("bind ", address, " to ", result.driver);

  // From here on, only the named driver may claim the device: a host driver (nouveau, say)
  // cannot grab it back between our unbind and bind.
  if (absl::Status written = kernel_.WriteAttribute(DeviceAttribute(address, "driver_override"),
                                                    result.driver, options_.write_timeout);
      !written.ok()) {
    return fail(absl::Status(written.code(),
                             absl::StrCat(what, ": set driver_override: ", written.message())));
  }
  if (!device->driver.empty()) {
    absl::Status unbound = kernel_.WriteAttribute(
        absl::StrCat(DriverDir(device->driver), "/unbind"), address, options_.unbind_timeout);
    if (absl::IsDeadlineExceeded(unbound)) {
      return fail(absl::UnavailableError(absl::StrCat(
          what, ": unbinding from ", device->driver, " did not finish in ",
          options_.unbind_timeout.count(),
          " ms: device busy (is a process using /dev/nvidia*, "
          "such as nvidia-persistenced or a container? stop it and the bind completes)")));
    }
    // ENODEV after waiting on the device lock: an unbind an earlier pass gave up on has
    // finished meanwhile. The driver link says whether the device is free now.
    if (!unbound.ok() &&
        root_.LinkTargetName(DeviceAttribute(address, "driver")).value_or("").empty()) {
      unbound = absl::OkStatus();
    }
    if (!unbound.ok()) {
      return fail(absl::Status(unbound.code(), absl::StrCat(what, ": unbind from ", device->driver,
                                                            ": ", unbound.message())));
    }
  }
  absl::Status bound = kernel_.WriteAttribute(absl::StrCat(DriverDir(result.driver), "/bind"),
                                              address, options_.write_timeout);
  if (!bound.ok()) {
    std::string hint;
    if (absl::IsInvalidArgument(bound) && !device->iommu_group.has_value()) {
      hint =
          " (the IOMMU is off: enable VT-d or AMD-Vi in the BIOS and boot with "
          "intel_iommu=on or amd_iommu=on)";
    } else if (absl::IsFailedPrecondition(bound)) {  // EBUSY: it has a driver again.
      hint = " (another driver took the device; is a udev rule binding it?)";
    }
    return fail(absl::Status(bound.code(), absl::StrCat(what, ": ", bound.message(), hint)));
  }
  // The kernel's answer to a bind can be success while the probe failed; the driver link is
  // the truth.
  const std::string now = root_.LinkTargetName(DeviceAttribute(address, "driver")).value_or("");
  if (now != result.driver) {
    return fail(absl::InternalError(
        absl::StrCat(what, ": the kernel accepted the bind but the device is on \"", now,
                     "\" (see dmesg for the probe error)")));
  }
  result.outcome = DeviceBinding::Outcome::kBound;
  return result;
}

absl::Status VfioBinder::Restore(const DeviceBinding& binding) {
  if (binding.outcome != DeviceBinding::Outcome::kBound) return absl::OkStatus();
  const std::string& address = binding.address;
  const std::string what =
      absl::StrCat("restore ", address, " to ",
                   binding.previous_driver.empty() ? "no driver" : binding.previous_driver);
  if (!root_.Exists(absl::StrCat(kPciDevicesDir, "/", address))) {
    return absl::NotFoundError(absl::StrCat(what, ": the device is gone"));
  }
  // "\n" clears the override, as the kernel's documentation does it (echo > driver_override).
  if (absl::Status cleared = kernel_.WriteAttribute(DeviceAttribute(address, "driver_override"),
                                                    "\n", options_.write_timeout);
      !cleared.ok()) {
    return absl::Status(cleared.code(),
                        absl::StrCat(what, ": clear driver_override: ", cleared.message()));
  }
  const std::string current = root_.LinkTargetName(DeviceAttribute(address, "driver")).value_or("");
  if (!current.empty()) {
    if (absl::Status unbound = kernel_.WriteAttribute(absl::StrCat(DriverDir(current), "/unbind"),
                                                      address, options_.unbind_timeout);
        !unbound.ok()) {
      return absl::Status(unbound.code(),
                          absl::StrCat(what, ": unbind from ", current, ": ", unbound.message()));
    }
  }
  if (binding.previous_driver.empty()) return absl::OkStatus();
  if (absl::Status bound =
          kernel_.WriteAttribute(absl::StrCat(DriverDir(binding.previous_driver), "/bind"), address,
                                 options_.write_timeout);
      !bound.ok()) {
    return absl::Status(bound.code(), absl::StrCat(what, ": ", bound.message()));
  }
  return absl::OkStatus();
}

}  // namespace gpuop::host
