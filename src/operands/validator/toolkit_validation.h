#pragma once

// The validator's toolkit step (NVIDIA GPU Operator v26.7, COMPONENT=toolkit in
// cmd/nvidia-validator/main.go): nvidia-smi runs inside this container. The container asks for
// every GPU (NVIDIA_VISIBLE_DEVICES=all) and runs under the `nvidia` RuntimeClass, and nothing in
// its image is nvidia-smi: only the NVIDIA runtime, configured by the toolkit, can have put it
// and the driver's libraries there. So a run that works proves the runtime, and toolkit-ready
// (empty) lets every GPU agent that waits for it start.

#include <string>

#include "absl/status/status.h"

#include "api/paths.h"
#include "operands/validator/nvidia_smi.h"

namespace gpuop::operands {

struct ToolkitValidationOptions {
  std::string validations_dir = api::kValidationsDir;
  std::string search_path;  // Where to look for nvidia-smi: this container's PATH.
};

// Removes toolkit-ready, runs nvidia-smi from `search_path`, and writes toolkit-ready when it
// works. NotFound when nvidia-smi is not there (the runtime injected nothing); the runner's
// error when it fails.
absl::Status ValidateToolkit(const ToolkitValidationOptions& options, NvidiaSmiRunner& runner);

}  // namespace gpuop::operands
