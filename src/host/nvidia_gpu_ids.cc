#include "host/nvidia_gpu_ids.h"

namespace gpuop::host {
namespace {

struct IdRange {
  uint16_t first;
  uint16_t last;  // Inclusive.
  std::string_view architecture;
};

// gh100; gb100, gb102, gb110, gb112, gb202, gb203, gb205, gb206, gb207.
constexpr IdRange kRanges[] = {
    {0x22F0, 0x237F, "hopper"},    {0x2900, 0x297F, "blackwell"}, {0x2980, 0x29FF, "blackwell"},
    {0x3180, 0x31FF, "blackwell"}, {0x3200, 0x327F, "blackwell"}, {0x2B80, 0x2BFF, "blackwell"},
    {0x2C00, 0x2C7F, "blackwell"}, {0x2F00, 0x2F7F, "blackwell"}, {0x2D00, 0x2D7F, "blackwell"},
    {0x2D80, 0x2DFF, "blackwell"},
};

}  // namespace

std::string_view GpuArchitecture(uint16_t device_id) {
  for (const IdRange& range : kRanges) {
    if (device_id >= range.first && device_id <= range.last) return range.architecture;
  }
  return "";
}

}  // namespace gpuop::host
