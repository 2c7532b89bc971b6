#pragma once

// Turns the operand manifests and a ClusterPolicy into the objects to apply: a pure function,
// so every rule is a unit test. For each state: parse its manifests (YAML), fill the ${NAME}
// variables in string values (never by pasting text, so a value cannot inject YAML), then the
// per-DaemonSet transforms of the common operand fields of NVIDIA GPU Operator v26.7's
// ClusterPolicy (api/nvidia/v1/clusterpolicy_types.go: image, pull policy and secrets, env,
// args, resources, spec.daemonsets), then the marks every object carries: our labels, a
// controller ownerReference to the ClusterPolicy, and the hash the applier compares.
//
//   std::vector<RenderedState> states = RenderOperands(policy, context, EmbeddedManifests());

#include <string>
#include <vector>

#include "absl/status/status.h"
#include <nlohmann/json.hpp>

#include "api/cluster_policy.h"
#include "operator/embedded_manifests.h"

namespace gpuop::op {

struct RenderContext {
  std::string operator_namespace;
  std::string gpuop_image;  // For the operands gpuop runs itself ("repo/gpuop:1.2.3").
  std::string gpuop_image_pull_policy = "IfNotPresent";
};

struct RenderedState {
  std::string name;
  bool enabled = false;
  std::vector<nlohmann::json> objects;  // In apply order; empty when disabled or failed.
  // Why an enabled state could not be rendered (e.g. its image is half-specified); the other
  // states still render.
  absl::Status error;
};

std::vector<RenderedState> RenderOperands(const api::ClusterPolicy& policy,
                                          const RenderContext& context,
                                          const std::vector<ManifestFile>& files);

// The image a section names (NVIDIA's imagePath()): repository/image:version,
// repository/image@sha256:..., or image alone when repository and version are both empty.
// InvalidArgument naming the field otherwise.
absl::StatusOr<std::string> OperandImage(const api::OperandSpec* spec, std::string_view spec_key);

// "Always", "Never" or "IfNotPresent"; anything else (or nothing) is IfNotPresent, as the API's
// default would be for a tagged image.
std::string PullPolicy(std::string_view value);

// The object's kind/namespace/name, for logs and the applier's bookkeeping.
std::string ManifestKey(const nlohmann::json& object);

}  // namespace gpuop::op
