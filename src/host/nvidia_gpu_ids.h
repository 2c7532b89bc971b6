#pragma once

// What an NVIDIA PCI device id says about the GPU: its architecture, by the id ranges NVIDIA's
// gpu-admin-tools use (reference/operands.md §3.2), and so whether it can run in confidential
// computing mode (Hopper and Blackwell can).

#include <cstdint>
#include <string_view>

namespace gpuop::host {

// "hopper", "blackwell", or "" for earlier or unknown ids.
std::string_view GpuArchitecture(uint16_t device_id);
inline bool IsCcCapableGpu(uint16_t device_id) { return !GpuArchitecture(device_id).empty(); }

}  // namespace gpuop::host
