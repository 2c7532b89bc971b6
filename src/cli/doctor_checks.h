#pragma once

// The preflight of a sandbox GPU node, each line a check the seed docs make people do by hand
// (`ls /sys/kernel/iommu_groups`, `lspci -nnk -d 10de:`, BIOS virtualization, intel_iommu=on,
// nouveau blacklisted, vfio modules, TEE, CC-capable GPUs, Kata artifacts, containerd
// handlers), read from a host root and judged with a hint to fix what fails.

#include <string>
#include <vector>

#include "host/host_root.h"

namespace gpuop::cli {

struct DoctorCheck {
  enum class Verdict { kOk, kWarn, kFail, kInfo, kSkip };
  std::string name;
  Verdict verdict = Verdict::kInfo;
  std::string detail;  // What was found.
  std::string hint;    // What to do, when not ok.
};

std::string_view VerdictName(DoctorCheck::Verdict verdict);  // "ok", "warn", ...

struct DoctorReport {
  std::vector<DoctorCheck> checks;
  size_t gpus = 0;  // NVIDIA GPUs found.

  bool Failed() const;  // Some check failed.
};

DoctorReport RunDoctorChecks(const host::HostRoot& root);

}  // namespace gpuop::cli
