#pragma once

// The container toolkit's part of TransformContainerDaemonSet (container_operands.h): the CDI
// mode, spec.toolkit.installDir, and the container runtime's config and socket, which the
// installer (nvidia-ctk-installer v1.20.0) edits and signals from inside its container. As in
// NVIDIA GPU Operator v26.7 (controllers/object_controls.go, TransformToolkit and
// transformForRuntime), spec.toolkit.env is applied before the runtime's paths are worked out:
// its CONTAINERD_CONFIG, CONTAINERD_SOCKET, RUNTIME_DROP_IN_CONFIG (and the CRI-O and Docker
// equivalents) name files on the host, whose folders are then mounted under /runtime and the
// variables pointed at them.
//
//   GPUOP_RETURN_IF_ERROR(TransformToolkitPod(pod, policy, context));

#include "absl/status/status.h"
#include <nlohmann/json.hpp>

#include "api/cluster_policy.h"
#include "operator/operand_renderer.h"

namespace gpuop::op {

// Transforms the pod spec of nvidia-container-toolkit-daemonset. InvalidArgument naming the field
// for a relative installDir or runtime file, an unknown container runtime or an invalid
// RuntimeClass name; Internal when the pod has no nvidia-container-toolkit-ctr.
absl::Status TransformToolkitPod(nlohmann::json& pod, const api::ClusterPolicy& policy,
                                 const RenderContext& context);

}  // namespace gpuop::op
