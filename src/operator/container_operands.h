#pragma once

// The per-operand transforms of the container path's DaemonSets (the driver, the container
// toolkit, the operator validator, the device plugin, GPU feature discovery), after the common
// operand fields are applied (operand_renderer.cc): what NVIDIA GPU Operator v26.7 sets from the
// ClusterPolicy in controllers/object_controls.go (TransformDriver, TransformToolkit,
// TransformValidator, TransformDevicePlugin, TransformGPUDiscoveryPlugin and what they share):
// spec.hostPaths.driverInstallDir, the validator's init containers, the RuntimeClass, MIG and CDI
// env, the toolkit's container runtime config, the device plugin's config-manager and MPS root,
// and the driver's modes and config volumes. The driver image's tag is the renderer's.
//
// Like NVIDIA's, the section's own `env` wins over what a transform sets (it is applied last),
// except the toolkit's, which chooses the runtime config paths the transform then rewrites.
//
//   GPUOP_RETURN_IF_ERROR(TransformContainerDaemonSet(daemonset, state.name, policy, context));

#include <string_view>

#include "absl/status/status.h"
#include <nlohmann/json.hpp>

#include "api/cluster_policy.h"
#include "operator/operand_renderer.h"

namespace gpuop::op {

// Transforms `daemonset` of container-path state `state` ("state-driver",
// "state-container-toolkit", "state-operator-validation", "state-device-plugin",
// "gpu-feature-discovery") in place. InvalidArgument naming the field for a policy value that
// cannot work (a relative path, an unknown kernel module type or MIG strategy, a name the API
// server would refuse) or for another state; Internal when the DaemonSet lacks the containers
// the state's manifest must have. On an error the DaemonSet may be half transformed.
absl::Status TransformContainerDaemonSet(nlohmann::json& daemonset, std::string_view state,
                                         const api::ClusterPolicy& policy,
                                         const RenderContext& context);

}  // namespace gpuop::op
