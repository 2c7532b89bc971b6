#pragma once

// Names of PCI devices from the pci.ids database (Debian's package pci.ids), and the Kubernetes
// resource names the sandbox device plugin derives from them: "GH100 [H100 SXM5 80GB]" ->
// "GH100_H100_SXM5_80GB", advertised as nvidia.com/GH100_H100_SXM5_80GB.
//
//   GPUOP_ASSIGN_OR_RETURN(PciIds ids, PciIds::Load(root));
//   std::string name = ids.DeviceName(0x10de, 0x2330);  // "GH100 [H100 SXM5 80GB]"

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

#include "host/host_root.h"

namespace gpuop::host {

class PciIds {
 public:
  // Where upstream's go-nvlib looks, in its order: /usr/share/misc/pci.ids (Debian),
  // /usr/local/share/pci.ids, /usr/share/hwdata/pci.ids, /usr/share/pci.ids; then the file
  // `fallback` when given (the agent image's own copy, for hosts without one). NotFound when
  // none exists.
  static absl::StatusOr<PciIds> Load(const HostRoot& root, const std::string& fallback = "");
  // Parses the text of a pci.ids file. Vendor and device lines are kept; subsystem lines and
  // the class section are skipped. A line that is neither a comment nor in the format is
  // DataLoss naming its number.
  static absl::StatusOr<PciIds> Parse(std::string_view text);

  // Empty when unknown.
  std::string VendorName(uint16_t vendor) const;
  std::string DeviceName(uint16_t vendor, uint16_t device) const;
  size_t DeviceCount() const { return devices_.size(); }

 private:
  absl::flat_hash_map<uint16_t, std::string> vendors_;
  absl::flat_hash_map<uint32_t, std::string> devices_;  // vendor << 16 | device
};

// The sandbox device plugin's formatting of a device name into a resource name: upper case,
// '/' and '.' to '_', runs of whitespace to '_', then anything outside [A-Za-z0-9_-] dropped.
// An empty name gives the device id in four hex digits ("2331"), as the reference says; so does
// a name with nothing left. Leading and trailing '_'/'-' are trimmed and the result cut to 63
// characters, the limits Kubernetes puts on the name part of a resource.
std::string ResourceNameFor(std::string_view device_name, uint16_t device_id);

}  // namespace gpuop::host
