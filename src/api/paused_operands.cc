#include "api/paused_operands.h"

#include "api/labels.h"

namespace gpuop::api {

const std::vector<PausedOperand>& PausedOperands() {
  static const auto* const operands = new std::vector<PausedOperand>{
      {DeployLabelOf(operand::kVfioManager), "nvidia-vfio-manager"},
      {DeployLabelOf(operand::kVgpuManager), "nvidia-vgpu-manager"},
      {DeployLabelOf(operand::kSandboxValidator), "nvidia-sandbox-validator"},
      {DeployLabelOf(operand::kSandboxDevicePlugin), "nvidia-sandbox-device-plugin-daemonset"},
      {DeployLabelOf(operand::kVgpuDeviceManager), "nvidia-vgpu-device-manager"},
      {DeployLabelOf(operand::kKataSandboxDevicePlugin),
       "nvidia-kata-sandbox-device-plugin-daemonset"},
  };
  return *operands;
}

}  // namespace gpuop::api
