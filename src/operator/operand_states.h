#pragma once

// The operand states gpuop deploys, in the order NVIDIA's operator applies them, and when each is
// on (NVIDIA GPU Operator v26.7, controllers/state_manager.go: ClusterPolicyController.init and
// isStateEnabled). A state is a directory of manifests under deployments/operands; its objects are
// applied together and pruned together.

#include <string_view>
#include <vector>

#include "api/cluster_policy.h"

namespace gpuop::op {

enum class ImageSource {
  kNone,    // No container image (RuntimeClasses, NodeFeatureRules).
  kGpuop,   // gpuop's own image, running one of its subcommands.
  kPolicy,  // The image the policy's section names (NVIDIA's operands).
};

struct OperandState {
  std::string_view name;      // The manifest directory, and the gpuop.io/state label.
  std::string_view spec_key;  // The ClusterPolicy section of its common fields; "" for none.
  ImageSource image;
  bool (*enabled)(const api::ClusterPolicy& policy);
};

// Every state, in apply order.
const std::vector<OperandState>& OperandStates();

}  // namespace gpuop::op
