// Any bytes as a pci.ids file (it comes from the host, under /host in a pod): PciIds::Parse
// must answer with a table or an error, never crash or hang, and every device name it keeps must
// turn into a resource name made only of the characters Kubernetes allows.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

#include "host/pci_ids.h"

namespace {

void CheckResourceName(std::string_view device_name, uint16_t device) {
  const std::string resource = gpuop::host::ResourceNameFor(device_name, device);
  if (resource.empty()) __builtin_trap();
  for (const char c : resource) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!allowed) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckResourceName(text.substr(0, 256), 0x2330);
  absl::StatusOr<gpuop::host::PciIds> ids = gpuop::host::PciIds::Parse(text);
  if (!ids.ok()) return 0;
  for (const uint16_t device : {0x2330, 0x2331, 0x2342, 0x0000, 0xffff}) {
    (void)ids->VendorName(0x10de);
    CheckResourceName(ids->DeviceName(0x10de, device), device);
  }
  return 0;
}
