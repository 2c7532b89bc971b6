#pragma once

// The confidential-computing mode a GPU runs in now, read natively and read-only from its BAR0
// through sysfs (`resource0` mapped PROT_READ), the way NVIDIA's gpu-admin-tools query it
// (reference/operands.md §3.2-3.4): wait until the FSP says boot is complete (0x200bc reads
// 0xff), then read the mode register (Hopper 0x1182cc, Blackwell 0x590), bits [1:0] (00 off,
// 01 on, 11 devtools, 10 an invalid devtools-only state); PPCIe is bit 5 of 0x1182cc on Hopper
// and bit 0 of 0x28c50 on an NVSwitch. Nothing is ever written to the device: a BAR0 that
// reads all ones (memory decoding off, the GPU in reset or gone) is an error, not a guess.
//
//   absl::StatusOr<GpuCcState> state = ReadGpuCcState(root, device, std::chrono::seconds(5));

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

#include "host/host_root.h"
#include "host/pci_device.h"

namespace gpuop::host {

enum class CcMode { kOff, kOn, kDevtools, kInvalidDevtoolsOnly };

// "off", "on", "devtools", "invalid-devtools-only-fix-by-setting-cc-mode" (the tool's words).
std::string_view CcModeName(CcMode mode);

// BAR0 offsets and values (32-bit little-endian registers).
inline constexpr uint32_t kBar0Size = 16u << 20;
inline constexpr uint32_t kFspBootCompleteRegister = 0x200bc;
inline constexpr uint32_t kFspBootCompleteSuccess = 0xff;
inline constexpr uint32_t kHopperCcRegister = 0x1182cc;
inline constexpr uint32_t kBlackwellCcRegister = 0x590;
inline constexpr uint32_t kHopperPpcieBit = 0x20;
inline constexpr uint32_t kNvSwitchPpcieRegister = 0x28c50;

// What the hardware can do, from the PCI ids alone.
bool SupportsCcMode(const PciDevice& device);  // Hopper or Blackwell GPU.
bool SupportsPpcie(const PciDevice& device);   // Hopper GPU, or an NVSwitch (§3.3).

struct GpuCcState {
  CcMode cc = CcMode::kOff;  // GPUs only; kOff for an NVSwitch.
  bool ppcie = false;
};

// The device's active modes (after its last reset). FailedPrecondition for a device that
// supports neither mode; DeadlineExceeded when boot does not complete within `boot_timeout`.
absl::StatusOr<GpuCcState> ReadGpuCcState(const HostRoot& root, const PciDevice& device,
                                          std::chrono::milliseconds boot_timeout);

}  // namespace gpuop::host
