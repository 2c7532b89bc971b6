// Any bytes as a device's modalias (first line) and the kernel's modules.alias (the rest), both
// read from the host: VfioModuleFor must pick a module or fall back to vfio_pci, never crash,
// and never take exponential time on patterns full of '*' (libFuzzer's -timeout catches that).
// IsPciAddress gets the first line too: it guards paths built from outside input.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "host/kernel_modules.h"
#include "host/pci_device.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view modalias = input.substr(0, newline);
  const std::string_view modules_alias =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  if (gpuop::host::VfioModuleFor(modalias, modules_alias).empty()) __builtin_trap();
  if (gpuop::host::IsPciAddress(modalias) && (modalias.find('/') != std::string_view::npos ||
                                              modalias.find("..") != std::string_view::npos)) {
    __builtin_trap();
  }
  return 0;
}
