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

#include "common/unique_fd.h"
#include "host/nvidia_gpu_ids.h"

namespace gpuop::host {
namespace {

// NV_PMC_BOOT_0's architecture field of an NVSwitch: 6 for gen2 (LR10), 7 for gen3 ("Laguna",
// 0x7000a1), the first with PPCIe; later generations count up from there. The low bits are the
// stepping, which differs between parts of one generation.
constexpr uint32_t kNvSwitchGen3Architecture = 0x7;
uint32_t NvSwitchArchitecture(uint32_t boot0) { return boot0 >> 20; }

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

absl::Status WaitForBoot(const Bar0& bar0, const std::string& bdf,
                         std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  uint32_t value = 0;
  while ((value = bar0.Read32(kFspBootCompleteRegister)) != kFspBootCompleteSuccess) {
    // All ones will not turn into a boot: the device does not decode its memory.
    if (value == 0xffffffff) return bar0.Register(kFspBootCompleteRegister).status();
    if (std::chrono::steady_clock::now() >= until) {
      return absl::DeadlineExceededError(absl::StrFormat(
          "GPU %s has not finished booting after %d ms (FSP boot-complete register 0x%x "
          "reads 0x%x, not 0xff)",
          bdf, static_cast<int>(timeout.count()), kFspBootCompleteRegister, value));
    }
    // The tool polls every 10 ms too.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::OkStatus();
}

CcMode DecodeCcBits(uint32_t value) {
  switch (value & 0x3) {
    case 0x0:
      return CcMode::kOff;
    case 0x1:
      return CcMode::kOn;
    case 0x3:
      return CcMode::kDevtools;
    default:
      return CcMode::kInvalidDevtoolsOnly;
  }
}

}  // namespace

std::string_view CcModeName(CcMode mode) {
  switch (mode) {
    case CcMode::kOff:
      return "off";
    case CcMode::kOn:
      return "on";
    case CcMode::kDevtools:
      return "devtools";
    case CcMode::kInvalidDevtoolsOnly:
      return "invalid-devtools-only-fix-by-setting-cc-mode";
  }
  return "off";
}

bool SupportsCcMode(const PciDevice& device) {
  return device.IsNvidiaGpu() && IsCcCapableGpu(device.device);
}

bool SupportsPpcie(const PciDevice& device) {
  return device.IsNvSwitch() ||
         (device.IsNvidiaGpu() && GpuArchitecture(device.device) == "hopper");
}

absl::StatusOr<GpuCcState> ReadGpuCcState(const HostRoot& root, const PciDevice& device,
                                          std::chrono::milliseconds boot_timeout) {
  if (!SupportsCcMode(device) && !SupportsPpcie(device)) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s (%04x:%04x) has no confidential-computing mode: it is not a Hopper "
                        "or Blackwell GPU or an NVSwitch",
                        device.address, device.vendor, device.device));
  }
  absl::StatusOr<Bar0> bar0 =
      Bar0::Map(root.Path(absl::StrCat(kPciDevicesDir, "/", device.address, "/resource0")));
  if (!bar0.ok()) return bar0.status();
  GpuCcState state;
  if (device.IsNvSwitch()) {
    absl::StatusOr<uint32_t> boot0 = bar0->Register(0x0);
    if (!boot0.ok()) return boot0.status();
    if (NvSwitchArchitecture(*boot0) < kNvSwitchGen3Architecture) {
      return absl::FailedPreconditionError(
          absl::StrFormat("NVSwitch %s (PMC_BOOT_0 0x%x) is older than gen3 and has no PPCIe mode",
                          device.address, *boot0));
    }
    absl::StatusOr<uint32_t> ppcie = bar0->Register(kNvSwitchPpcieRegister);
    if (!ppcie.ok()) return ppcie.status();
    state.ppcie = (*ppcie & 0x1) != 0;
    return state;
  }
  if (absl::Status booted = WaitForBoot(*bar0, device.address, boot_timeout); !booted.ok()) {
    return booted;
  }
  const bool hopper = GpuArchitecture(device.device) == "hopper";
  absl::StatusOr<uint32_t> mode = bar0->Register(hopper ? kHopperCcRegister : kBlackwellCcRegister);
  if (!mode.ok()) return mode.status();
  state.cc = DecodeCcBits(*mode);
  state.ppcie = hopper && (*mode & kHopperPpcieBit) != 0;
  return state;
}

}  // namespace gpuop::host
