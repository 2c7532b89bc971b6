#include "host/gpu_cc_mode.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "common/clock.h"
#include "common/unique_fd.h"

namespace gpuop::host {
namespace {

// NV_PMC_BOOT_0's architecture field of an NVSwitch: 6 for gen2 (LR10), 7 for gen3 ("Laguna",
// 0x7000a1), the first with PPCIe; later generations count up from there. The low bits are the
// stepping, which differs between parts of one generation.
constexpr uint32_t kNvSwitchGen3Architecture = 0x7;
uint32_t NvSwitchArchitecture(uint32_t boot0) { return boot0 >> 20; }

// The CC-capable GPU chips as NVIDIA's gpu-admin-tools (version 2025.11.21) tells them apart
// and reads them. It knows a chip by the GPU's PCI device id (GpuProperties.get_chip_family over
// its GPU_DEVID_CHIPS table; Gpu.__init__ takes 0x22f0-0x237f, which that table lacks, as gh100)
// and takes the chip's registers from its register map (gpu.regs.<chip>; every gb2xx chip uses
// gb202's, gb110 gb100's and gb112 gb102's). Gpu.wait_for_boot polls the map's
// NV_THERM_I2CS_SCRATCH_FSP_BOOT_COMPLETE for 0xff: 0x200bc in the gh100, gb100 and gb102 maps,
// 0xad00bc in gb202's, so one register for every chip would time out on a gb20x that has
// booted. The mode is at a fixed offset per architecture (query_cc_mode_hopper 0x1182cc,
// query_cc_mode_blackwell 0x590); query_ppcie_mode reads PPCIe on Hopper only.
struct GpuChip {
  uint16_t first;
  uint16_t last;  // Inclusive.
  std::string_view name;
  uint32_t boot_complete;
  bool hopper;
};

constexpr GpuChip kGpuChips[] = {
    {0x22f0, 0x237f, "gh100", kGh100BootCompleteRegister, true},
    {0x2900, 0x297f, "gb100", kGh100BootCompleteRegister, false},
    {0x2980, 0x29ff, "gb102", kGh100BootCompleteRegister, false},
    {0x3180, 0x31ff, "gb110", kGh100BootCompleteRegister, false},
    {0x3200, 0x327f, "gb112", kGh100BootCompleteRegister, false},
    {0x2b80, 0x2bff, "gb202", kGb20xBootCompleteRegister, false},
    {0x2c00, 0x2c7f, "gb203", kGb20xBootCompleteRegister, false},
    {0x2f00, 0x2f7f, "gb205", kGb20xBootCompleteRegister, false},
    {0x2d00, 0x2d7f, "gb206", kGb20xBootCompleteRegister, false},
    {0x2d80, 0x2dff, "gb207", kGb20xBootCompleteRegister, false},
};

// The tool's NvSwitch (gen3 and later): wait_for_boot polls 0x660bc for 0xff, then
// query_ppcie_mode reads bit 0 of 0x28c50.
constexpr CcRegisters kNvSwitchRegisters = {.family = "nvswitch",
                                            .boot_complete = kNvSwitchBootCompleteRegister,
                                            .ppcie = kNvSwitchPpcieRegister,
                                            .ppcie_bit = kNvSwitchPpcieBit};

std::string Errno(int error) { return std::error_code(error, std::generic_category()).message(); }

// BAR0 mapped read-only for the life of the object.
class Bar0 {
 public:
  static absl::StatusOr<Bar0> Map(const std::string& path) {
    common::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.Valid()) return absl::UnavailableError(absl::StrCat("open ", path, ": ", Errno(errno)));
    struct stat info {};
    if (::fstat(fd.Get(), &info) != 0) {
      return absl::UnavailableError(absl::StrCat("stat ", path, ": ", Errno(errno)));
    }
    // sysfs gives a resource file the BAR's size; a GPU's BAR0 is 16 MiB.
    const size_t size = static_cast<size_t>(info.st_size);
    if (size < kBar0Size) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is ", size, " bytes, not a GPU's 16 MiB BAR0"));
    }
    void* base = ::mmap(nullptr, kBar0Size, PROT_READ, MAP_SHARED, fd.Get(), 0);
    if (base == MAP_FAILED) {
      return absl::UnavailableError(absl::StrCat("mmap ", path, ": ", Errno(errno)));
    }
    return Bar0(static_cast<const volatile uint8_t*>(base), path);
  }
  Bar0(Bar0&& other) noexcept : base_(other.base_), path_(std::move(other.path_)) {
    other.base_ = nullptr;
  }
  Bar0(const Bar0&) = delete;
  Bar0& operator=(const Bar0&) = delete;
  Bar0& operator=(Bar0&&) = delete;
  ~Bar0() {
    if (base_ != nullptr) ::munmap(const_cast<uint8_t*>(base_), kBar0Size);
  }

  // One aligned 32-bit load, as the device wants its registers read (never a byte at a time).
  uint32_t Read32(uint32_t offset) const {
    return *reinterpret_cast<const volatile uint32_t*>(base_ + offset);
  }
  // A register that reads all ones: the device does not decode its memory (PCI memory space
  // disabled, in reset, or gone).
  absl::StatusOr<uint32_t> Register(uint32_t offset) const {
    const uint32_t value = Read32(offset);
    if (value == 0xffffffff) {
      return absl::UnavailableError(absl::StrFormat(
          "%s: BAR0 register 0x%x reads 0xffffffff (memory decoding off, in reset, or gone)", path_,
          offset));
    }
    return value;
  }

 private:
  Bar0(const volatile uint8_t* base, std::string path) : base_(base), path_(std::move(path)) {}
  const volatile uint8_t* base_;
  std::string path_;
};

absl::Status WaitForBoot(const Bar0& bar0, const PciDevice& device, const CcRegisters& registers,
                         std::chrono::milliseconds timeout) {
  const auto until = common::SteadyClock::Instance().Now() + timeout;
  const uint32_t offset = registers.boot_complete;
  uint32_t value = 0;
  while ((value = bar0.Read32(offset)) != kBootCompleteSuccess) {
    // All ones will not turn into a boot: the device does not decode its memory.
    if (value == 0xffffffff) return bar0.Register(offset).status();
    if (common::SteadyClock::Instance().Now() >= until) {
      return absl::DeadlineExceededError(absl::StrFormat(
          "%s %s (%s) has not finished booting after %d ms (boot-complete register 0x%x reads "
          "0x%x, not 0x%x)",
          device.IsNvSwitch() ? "NVSwitch" : "GPU", device.address, registers.family,
          static_cast<int>(timeout.count()), offset, value, kBootCompleteSuccess));
    }
    // The tool polls every 10 ms too.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::OkStatus();
}

std::optional<api::CcMode> DecodeCcBits(uint32_t value) {
  switch (value & 0x3) {
    case 0x0:
      return api::CcMode::kOff;
    case 0x1:
      return api::CcMode::kOn;
    case 0x3:
      return api::CcMode::kDevtools;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::string_view CcModeWord(std::optional<api::CcMode> mode) {
  return mode.has_value() ? api::CcModeName(*mode) : "invalid-devtools-only-fix-by-setting-cc-mode";
}

std::optional<CcRegisters> CcRegistersOf(const PciDevice& device) {
  if (device.IsNvSwitch()) return kNvSwitchRegisters;
  if (!device.IsNvidiaGpu()) return std::nullopt;
  for (const GpuChip& chip : kGpuChips) {
    if (device.device < chip.first || device.device > chip.last) continue;
    CcRegisters registers{.family = chip.name, .boot_complete = chip.boot_complete};
    if (chip.hopper) {
      registers.cc_mode = kHopperCcRegister;
      registers.ppcie = kHopperCcRegister;
      registers.ppcie_bit = kHopperPpcieBit;
    } else {
      registers.cc_mode = kBlackwellCcRegister;
    }
    return registers;
  }
  return std::nullopt;
}

bool SupportsCcMode(const PciDevice& device) {
  const std::optional<CcRegisters> registers = CcRegistersOf(device);
  return registers.has_value() && registers->cc_mode.has_value();
}

bool SupportsPpcie(const PciDevice& device) {
  const std::optional<CcRegisters> registers = CcRegistersOf(device);
  return registers.has_value() && registers->ppcie.has_value();
}

absl::StatusOr<GpuCcState> ReadGpuCcState(const HostRoot& root, const PciDevice& device,
                                          std::chrono::milliseconds boot_timeout) {
  const std::optional<CcRegisters> registers = CcRegistersOf(device);
  if (!registers.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s (%04x:%04x) has no confidential-computing mode: it is not a Hopper "
                        "or Blackwell GPU or an NVSwitch",
                        device.address, device.vendor, device.device));
  }
  absl::StatusOr<Bar0> bar0 =
      Bar0::Map(root.Path(absl::StrCat(kPciDevicesDir, "/", device.address, "/resource0")));
  if (!bar0.ok()) return bar0.status();
  if (device.IsNvSwitch()) {
    // The tool knows a switch's generation from NV_PMC_BOOT_0 alone, before it waits for boot.
    absl::StatusOr<uint32_t> boot0 = bar0->Register(0x0);
    if (!boot0.ok()) return boot0.status();
    if (NvSwitchArchitecture(*boot0) < kNvSwitchGen3Architecture) {
      return absl::FailedPreconditionError(
          absl::StrFormat("NVSwitch %s (PMC_BOOT_0 0x%x) is older than gen3 and has no PPCIe mode",
                          device.address, *boot0));
    }
  }
  if (absl::Status booted = WaitForBoot(*bar0, device, *registers, boot_timeout); !booted.ok()) {
    return booted;
  }
  GpuCcState state;
  std::optional<uint32_t> mode;
  if (registers->cc_mode.has_value()) {
    absl::StatusOr<uint32_t> value = bar0->Register(*registers->cc_mode);
    if (!value.ok()) return value.status();
    mode = *value;
    state.cc = DecodeCcBits(*mode);
  }
  if (registers->ppcie.has_value()) {
    // On Hopper PPCIe is a bit of the mode register: both come from one load.
    absl::StatusOr<uint32_t> ppcie =
        registers->ppcie == registers->cc_mode ? *mode : bar0->Register(*registers->ppcie);
    if (!ppcie.ok()) return ppcie.status();
    state.ppcie = (*ppcie & registers->ppcie_bit) != 0;
  }
  return state;
}

}  // namespace gpuop::host
