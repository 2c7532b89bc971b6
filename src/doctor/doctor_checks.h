#pragma once

// The preflight of a sandbox GPU node, each line a check the seed docs make people do by hand
// (`ls /sys/kernel/iommu_groups`, `lspci -nnk -d 10de:`, BIOS virtualization, intel_iommu=on,
// nouveau blacklisted, vfio modules, TEE, CC-capable GPUs, Kata artifacts, containerd
// handlers), read from a host root and judged with a hint to fix what fails. `gpuop doctor`
// (cli/doctor_command.cc) prints them as a table or JSON.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

#include "host/host_root.h"

namespace gpuop::doctor {

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

// Whether `path` can be a host root at all: InvalidArgument naming it when it does not exist or
// is not a directory. Checked before RunDoctorChecks, which would read a missing tree as a host
// with nothing wrong.
absl::Status ValidateHostRoot(const std::string& path);

// The checks, in order. A root without /sys/bus/pci (not a host's /, or its /sys not mounted
// there) gets one failed "host root" check and no others: read from there, every other check
// would only report absences.
DoctorReport RunDoctorChecks(const host::HostRoot& root);

}  // namespace gpuop::doctor
