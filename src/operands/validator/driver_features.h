#pragma once

// The extra kernel modules a driver container may have been asked to load beside the driver
// (GPUDirect Storage, GDRCopy, GPUDirect RDMA), and the validator's proof of each. The driver
// container says which in .driver-ctr-ready, YAML lines `GDS_ENABLED: true`; for each one that is
// true the driver step checks that the module is in the host's /proc/modules (what NVIDIA's
// validator greps lsmod for) and writes that module's ready file, which the agents that use it
// wait for (NVIDIA GPU Operator v26.7, cmd/nvidia-validator/main.go).

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "api/paths.h"
#include "host/host_root.h"

namespace gpuop::operands {

struct DriverFeature {
  const char* key;         // In .driver-ctr-ready.
  const char* module;      // As /proc/modules names it.
  const char* ready_file;  // Under the validations folder.
  const char* name;        // For messages.
};

inline constexpr DriverFeature kDriverFeatures[] = {
    {"GDS_ENABLED", "nvidia_fs", api::kNvidiaFsReadyFile, "GPUDirect Storage"},
    {"GDRCOPY_ENABLED", "gdrdrv", api::kGdrcopyReadyFile, "GDRCopy"},
    {"GPU_DIRECT_RDMA_ENABLED", "nvidia_peermem", api::kNvidiaPeermemReadyFile, "GPUDirect RDMA"},
};

// The keys that .driver-ctr-ready's text sets to true. Each line is `KEY: <bool>` (YAML's
// spellings: true/false, yes/no, on/off, any case); blank lines and comments are skipped, and
// keys this table does not know are returned too (the caller skips them, as NVIDIA does).
// InvalidArgument naming the line for any other line.
absl::StatusOr<std::set<std::string>> EnabledDriverFeatures(std::string_view text);

// Whether `module` is loaded: a line of the host's /proc/modules starts with its name. An error
// when /proc/modules cannot be read.
absl::StatusOr<bool> ModuleLoadedPerProcModules(const host::HostRoot& root,
                                                std::string_view module);

// For each feature in `enabled`: FailedPrecondition naming the module when it is not loaded,
// else its ready file is written in `validations_dir`. The ready files written, in table order.
absl::StatusOr<std::vector<std::string>> ValidateDriverFeatures(
    const std::set<std::string>& enabled, const host::HostRoot& root,
    const std::string& validations_dir);

}  // namespace gpuop::operands
