#include "host/pci_device.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace gpuop::host {
namespace {

constexpr char kConsumerLinkPrefix[] = "consumer:pci:";
constexpr char kVfioDevicePrefix[] = "vfio";

// A "0x10de"-style attribute of at most `max` value.
absl::StatusOr<uint32_t> ReadHex(const HostRoot& root, const std::string& path, uint32_t max) {
  absl::StatusOr<std::string> text = root.ReadTrimmed(path);
  if (!text.ok()) return text.status();
  uint32_t value = 0;
  if (!absl::StartsWith(*text, "0x") || !absl::SimpleHexAtoi(text->substr(2), &value) ||
      value > max) {
    return absl::DataLossError(absl::StrCat(path, ": expected a hex number like 0x10de, read \"",
                                            text->substr(0, 40), "\""));
  }
  return value;
}

}  // namespace

bool IsPciAddress(std::string_view text) {
  const auto hex = [](std::string_view digits) {
    return !digits.empty() &&
           digits.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  };
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon < 4 || colon > 8) return false;
  const std::string_view rest = text.substr(colon + 1);  // "65:00.0"
  if (rest.size() != 7 || rest[2] != ':' || rest[5] != '.') return false;
  if (!hex(text.substr(0, colon)) || !hex(rest.substr(0, 2)) || !hex(rest.substr(3, 2))) {
    return false;
  }
  const int device = std::stoi(std::string(rest.substr(3, 2)), nullptr, 16);
  return device <= 0x1f && rest[6] >= '0' && rest[6] <= '7';
}

absl::StatusOr<PciDevice> ReadPciDevice(const HostRoot& root, const std::string& address) {
  const std::string dir = absl::StrCat(kPciDevicesDir, "/", address);
  if (!root.Exists(dir)) return absl::NotFoundError(absl::StrCat("no PCI device ", address));
  PciDevice pci;
  pci.address = address;
  absl::StatusOr<uint32_t> value = ReadHex(root, dir + "/vendor", 0xffff);
  if (!value.ok()) return value.status();
  pci.vendor = static_cast<uint16_t>(*value);
  value = ReadHex(root, dir + "/device", 0xffff);
  if (!value.ok()) return value.status();
  pci.device = static_cast<uint16_t>(*value);
  value = ReadHex(root, dir + "/class", 0xffffff);
  if (!value.ok()) return value.status();
  pci.class_code = *value;
  // Subsystem ids and the rest are informative: absent or odd, they stay at their defaults.
  if (value = ReadHex(root, dir + "/subsystem_vendor", 0xffff); value.ok()) {
    pci.subsystem_vendor = static_cast<uint16_t>(*value);
  }
  if (value = ReadHex(root, dir + "/subsystem_device", 0xffff); value.ok()) {
    pci.subsystem_device = static_cast<uint16_t>(*value);
  }
  pci.modalias = root.ReadTrimmed(dir + "/modalias").value_or("");
  pci.driver = root.LinkTargetName(dir + "/driver").value_or("");
  pci.driver_override = root.ReadTrimmed(dir + "/driver_override").value_or("");
  if (pci.driver_override == "(null)") pci.driver_override.clear();
  if (const auto group = root.LinkTargetName(dir + "/iommu_group"); group.has_value()) {
    int number = 0;
    if (absl::SimpleAtoi(*group, &number)) pci.iommu_group = number;
  }
  if (!absl::SimpleAtoi(root.ReadTrimmed(dir + "/numa_node").value_or("-1"), &pci.numa_node)) {
    pci.numa_node = -1;
  }
  for (const std::string& name : root.List(dir)) {
    if (absl::StartsWith(name, kConsumerLinkPrefix)) {
      pci.consumers.push_back(name.substr(sizeof(kConsumerLinkPrefix) - 1));
    }
  }
  for (const std::string& name : root.List(dir + "/vfio-dev")) {
    int number = 0;
    if (absl::StartsWith(name, kVfioDevicePrefix) &&
        absl::SimpleAtoi(name.substr(sizeof(kVfioDevicePrefix) - 1), &number)) {
      pci.vfio_device = number;
    }
  }
  return pci;
}

PciScan ScanPciDevices(const HostRoot& root) {
  PciScan scan;
  for (const std::string& address : root.List(kPciDevicesDir)) {
    absl::StatusOr<PciDevice> device = ReadPciDevice(root, address);
    if (device.ok()) {
      scan.devices.push_back(*std::move(device));
    } else if (!absl::IsNotFound(device.status())) {  // Gone between list and read: not news.
      scan.problems.push_back(device.status());
    }
  }
  return scan;
}

std::map<int, std::vector<const PciDevice*>> DevicesByIommuGroup(const PciScan& scan) {
  std::map<int, std::vector<const PciDevice*>> groups;
  for (const PciDevice& device : scan.devices) {
    if (device.iommu_group.has_value()) groups[*device.iommu_group].push_back(&device);
  }
  return groups;
}

}  // namespace gpuop::host
