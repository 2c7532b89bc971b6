#pragma once

// The validator's cc-manager step (as NVIDIA GPU Operator v26.7's nvidia-validator has it,
// COMPONENT=cc-manager in cmd/nvidia-validator/main.go): on a node that can do confidential
// computing (nvidia.com/cc.capable=true), wait until the CC manager has applied the node's mode
// once (it writes .cc-manager-ctr-ready), then write cc-manager-ready; on any other node write it
// at once. The wait is an inotify watch on the folder, not NVIDIA's 5 s `stat` loop, so the step
// ends as soon as the file appears.

#include <chrono>
#include <string>

#include "absl/status/status.h"

#include "common/stop_signal.h"

namespace gpuop::operands {

struct CcManagerValidationOptions {
  std::string validations_dir;
  bool cc_capable = false;
  // 0: wait as long as it takes (NVIDIA's behaviour; the init container just stays).
  std::chrono::milliseconds timeout{0};
};

// DeadlineExceeded when the timeout passes first; Cancelled when `stop` is signalled.
absl::Status ValidateCcManager(const CcManagerValidationOptions& options,
                               const common::StopSignal& stop);

}  // namespace gpuop::operands
