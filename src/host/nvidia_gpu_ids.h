#pragma once

// What an NVIDIA PCI device id says about the GPU: its architecture, by the id ranges NVIDIA's
// gpu-admin-tools 2025.11.21 use (gpu/devid_chips.py: gh100 0x22f0-0x237f, and the gb10x,
// gb11x and gb20x ranges), and so whether it can run in confidential computing mode (Hopper and
// Blackwell can; the tool checks the architecture, not a list of ids).

#include <cstdint>
#include <string_view>

namespace gpuop::host {

// "hopper", "blackwell", or "" for earlier or unknown ids.
std::string_view GpuArchitecture(uint16_t device_id);
inline bool IsCcCapableGpu(uint16_t device_id) { return !GpuArchitecture(device_id).empty(); }

}  // namespace gpuop::host
