#pragma once

// A PCI function as sysfs shows it (/sys/bus/pci/devices/<address>/): ids, class, the driver
// bound now, driver_override, IOMMU group, NUMA node, and the functions that depend on it
// (consumer:pci: device links, which the kernel creates from a GPU to its HD-audio, USB and
// UCSI functions). Read-only; binding is in vfio_binder.h.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "host/host_root.h"

namespace gpuop::host {

inline constexpr uint16_t kNvidiaVendorId = 0x10de;
inline constexpr char kPciDevicesDir[] = "/sys/bus/pci/devices";
inline constexpr char kPciDriversDir[] = "/sys/bus/pci/drivers";
inline constexpr char kPciDriversProbe[] = "/sys/bus/pci/drivers_probe";

struct PciDevice {
  std::string address;  // "0000:65:00.0"
  uint16_t vendor = 0;
  uint16_t device = 0;
  uint16_t subsystem_vendor = 0;
  uint16_t subsystem_device = 0;
  uint32_t class_code = 0;         // 24 bits: base class, subclass, programming interface.
  std::string modalias;            // "pci:v000010DEd00002330sv...": matched against modules.alias.
  std::string driver;              // Bound driver's name; empty when unbound.
  std::string driver_override;     // Empty when unset (sysfs reads "(null)").
  std::optional<int> iommu_group;  // None when the IOMMU is off.
  int numa_node = -1;              // -1: unknown or not a NUMA machine.
  std::vector<std::string> consumers;  // Addresses of functions linked to this one.
  std::optional<int> vfio_device;      // N of vfio-dev/vfioN, while bound to a vfio driver.

  uint8_t BaseClass() const { return static_cast<uint8_t>(class_code >> 16); }
  // Display controller (VGA 0x0300, 3D 0x0302, ...) from NVIDIA.
  bool IsNvidiaGpu() const { return vendor == kNvidiaVendorId && BaseClass() == 0x03; }
  // NVIDIA's NVSwitch: class 0x0680 ("other bridge").
  bool IsNvSwitch() const { return vendor == kNvidiaVendorId && (class_code >> 8) == 0x0680; }
  // A PCI-to-PCI bridge or root port: it shares an IOMMU group without needing a vfio driver.
  bool IsPciBridge() const { return (class_code >> 8) == 0x0604; }
};

// Whether `text` has the form of a sysfs PCI address, "0000:65:00.0" (domain of 4 or more hex
// digits, bus, device 00-1f, function 0-7). Checked before a name from outside (a state file,
// a request) becomes a path under /sys.
bool IsPciAddress(std::string_view text);

// One device, from its sysfs directory. NotFound when it is gone (hot-removed); a malformed
// attribute (vendor, device, class) is DataLoss naming the file and its contents.
absl::StatusOr<PciDevice> ReadPciDevice(const HostRoot& root, const std::string& address);

struct PciScan {
  std::vector<PciDevice> devices;      // Sorted by address.
  std::vector<absl::Status> problems;  // Devices that could not be read, each named.
};

// Every PCI function of the node. A device that cannot be read is reported, not fatal: one
// odd function must not hide the GPUs.
PciScan ScanPciDevices(const HostRoot& root);

// The scanned functions of each IOMMU group, by group number, pointing into `scan`. Devices
// without a group (IOMMU off) are in none.
std::map<int, std::vector<const PciDevice*>> DevicesByIommuGroup(const PciScan& scan);

}  // namespace gpuop::host
