#pragma once

// Moves PCI functions to a vfio driver with the kernel's sysfs protocol, one device at a time:
// load the module the device's modalias asks for, set driver_override, unbind from the current
// driver, bind to the vfio driver, and read back the result. A device already on a vfio driver
// is left alone: rebinding a GPU under a running VM would take it from the VM (NVIDIA's
// vfio-manager does exactly that on every restart; we do not).
//
//   VfioBinder binder(root, kernel, {});
//   for (const PciDevice& device : BindTargets(ScanPciDevices(root), {.vendor = 0x10de}))
//     DeviceBinding result = binder.Bind(device.address);

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

#include "host/host_root.h"
#include "host/kernel.h"
#include "host/pci_device.h"

namespace gpuop::host {

struct TargetSelection {
  uint16_t vendor = kNvidiaVendorId;
  // NVIDIA: GPUs (display class) always, NVSwitches only when asked (they are passed through
  // for protected PCIe only). Other vendors (the emulated devices of the QEMU test): every
  // function of that vendor.
  bool include_nvswitches = false;
};

// The devices to bind, in address order: the selected devices, then the other functions of
// their IOMMU groups and their consumer-linked functions (a GPU's HD audio, USB-C and UCSI
// controllers), since a group is usable by a VM only when all its endpoints are on vfio.
// Bridges in a group are left out: they stay on pcieport without harming the group.
struct BindTarget {
  PciDevice device;
  std::string companion_of;  // The selected device it goes with; empty when selected itself.

  // For logs: "gpu", "nvswitch", "device", or "companion of 0000:65:00.0".
  std::string Reason() const;
};
std::vector<BindTarget> BindTargets(const PciScan& scan, const TargetSelection& selection);

struct DeviceBinding {
  enum class Outcome { kAlreadyBound, kBound, kFailed };
  std::string address;
  std::string previous_driver;  // Empty when it was unbound.
  std::string driver;           // The vfio driver it is (or was to be) on.
  Outcome outcome = Outcome::kFailed;
  absl::Status error;  // Set when kFailed: says what failed and what to do.
};

struct BinderOptions {
  // How long an unbind may block. nvidia's remove waits while a process holds /dev/nvidia*.
  std::chrono::milliseconds unbind_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds write_timeout = std::chrono::seconds(5);
};

class VfioBinder {
 public:
  VfioBinder(const HostRoot& root, Kernel& kernel, BinderOptions options);

  // Binds one function to its vfio driver. Reads the device afresh, so it may be called again
  // after a failure; never throws away what another device achieved.
  DeviceBinding Bind(const std::string& address);

  // Undoes a kBound result: back to the previous driver (or unbound if it had none), with
  // driver_override cleared. Used by --unbind-on-exit. NotFound when the device is gone.
  absl::Status Restore(const DeviceBinding& binding);

 private:
  absl::Status EnsureDriverLoaded(const std::string& module, std::string& driver);

  const HostRoot& root_;
  Kernel& kernel_;
  const BinderOptions options_;
  const std::string modules_alias_;  // Read once: it changes only with the kernel.
};

}  // namespace gpuop::host
