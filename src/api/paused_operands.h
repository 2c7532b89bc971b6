#pragma once

// The operands the CC manager pauses around a mode switch, because their pods hold the GPUs:
// NVIDIA's list (k8s-cc-manager v1.0.0) plus the Kata device plugin, which NVIDIA's cc-manager
// forgets. Each operand's pods carry the `app` label here (ours as
// deployments/operands/*/0500_daemonset.yaml sets it, the vGPU ones as NVIDIA's manifests do):
// the CC manager waits until no such pod is left on the node. It restores only these labels
// from its pause record.
//
//   for (const api::PausedOperand& operand : api::PausedOperands()) ... operand.label ...

#include <string>
#include <vector>

namespace gpuop::api {

struct PausedOperand {
  std::string label;  // nvidia.com/gpu.deploy.<operand>
  std::string app;    // the `app` label of its pods
};
const std::vector<PausedOperand>& PausedOperands();

}  // namespace gpuop::api
