#pragma once

// The confidential-computing mode a GPU runs in now, read natively and read-only from its BAR0
// through sysfs (`resource0` mapped PROT_READ), the way NVIDIA's gpu-admin-tools (version
// 2025.11.21) queries it: wait until the FSP says boot is complete (its boot-complete register
// reads 0xff), then read the mode register, bits [1:0] (00 off, 01 on, 11 devtools, 10 an
// invalid devtools-only state). Where those registers are depends on the chip family, as in
// the tool's per-chip register maps (CcRegistersOf below): a gb20x GPU says boot is complete at
// 0xad00bc, not at Hopper's 0x200bc. Nothing is ever written to the device: a BAR0 that reads
// all ones (memory decoding off, the GPU in reset or gone) is an error, not a guess.
//
//   absl::StatusOr<GpuCcState> state = ReadGpuCcState(root, device, std::chrono::seconds(5));

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

#include "api/cc_mode.h"
#include "host/host_root.h"
#include "host/pci_device.h"

namespace gpuop::host {

// A mode read as a word: its name (api::CcModeName), or for none the tool's word for the invalid
// state of the mode bits, "invalid-devtools-only-fix-by-setting-cc-mode".
std::string_view CcModeWord(std::optional<api::CcMode> mode);

// BAR0 offsets and values (32-bit little-endian registers), as gpu-admin-tools 2025.11.21 has
// them.
inline constexpr uint32_t kBar0Size = 16u << 20;
inline constexpr uint32_t kBootCompleteSuccess = 0xff;
// NV_THERM_I2CS_SCRATCH_FSP_BOOT_COMPLETE: gh100, gb100, gb102 (and gb110, gb112).
inline constexpr uint32_t kGh100BootCompleteRegister = 0x200bc;
// The same register on every gb20x (gb202, gb203, gb205, gb206, gb207).
inline constexpr uint32_t kGb20xBootCompleteRegister = 0xad00bc;
// A gen3 NVSwitch's (the tool's "laguna") boot status.
inline constexpr uint32_t kNvSwitchBootCompleteRegister = 0x660bc;
inline constexpr uint32_t kHopperCcRegister = 0x1182cc;
inline constexpr uint32_t kBlackwellCcRegister = 0x590;  // NV_PMC_SCRATCH_RESET_2_CC.
inline constexpr uint32_t kHopperPpcieBit = 0x20;        // In kHopperCcRegister.
inline constexpr uint32_t kNvSwitchPpcieRegister = 0x28c50;
inline constexpr uint32_t kNvSwitchPpcieBit = 0x1;

// Where one chip family keeps what ReadGpuCcState reads.
struct CcRegisters {
  std::string_view family;          // "gh100", "gb100", ..., "gb202", ..., "nvswitch".
  uint32_t boot_complete = 0;       // Reads kBootCompleteSuccess once boot is complete.
  std::optional<uint32_t> cc_mode;  // Bits [1:0]; none on an NVSwitch.
  std::optional<uint32_t> ppcie;    // Hopper GPUs and NVSwitches only.
  uint32_t ppcie_bit = 0;           // PPCIe's bit in `ppcie`.
};

// The registers of a Hopper or Blackwell GPU or of an NVSwitch, by its PCI ids (an NVSwitch's
// generation shows only in BAR0, so ReadGpuCcState checks it there); none for other devices.
std::optional<CcRegisters> CcRegistersOf(const PciDevice& device);

// What the hardware can do, from the PCI ids alone.
bool SupportsCcMode(const PciDevice& device);  // Hopper or Blackwell GPU.
bool SupportsPpcie(const PciDevice& device);   // Hopper GPU, or an NVSwitch.

struct GpuCcState {
  // The mode bits: kOff, kOn or kDevtools; none for 10, an invalid devtools-only state that no
  // label asks for and only setting a mode ends. kOff for an NVSwitch, which has no CC mode.
  // Never kPpcie: PPCIe is a bit of its own.
  std::optional<api::CcMode> cc = api::CcMode::kOff;
  bool ppcie = false;

  // The device's mode as nvidia.com/cc.mode names it: kPpcie when PPCIe is on, else `cc`.
  std::optional<api::CcMode> Mode() const {
    return ppcie ? std::optional<api::CcMode>(api::CcMode::kPpcie) : cc;
  }
};

// The device's active modes (after its last reset). FailedPrecondition for a device that
// supports neither mode; DeadlineExceeded when boot does not complete within `boot_timeout`.
absl::StatusOr<GpuCcState> ReadGpuCcState(const HostRoot& root, const PciDevice& device,
                                          std::chrono::milliseconds boot_timeout);

}  // namespace gpuop::host
