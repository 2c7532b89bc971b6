#pragma once

// The driver's part of TransformContainerDaemonSet (container_operands.h): spec.driver's modes
// and config volumes on nvidia-driver-daemonset, as NVIDIA GPU Operator v26.7 sets them
// (controllers/object_controls.go, TransformDriver): the kernel module type, GPUDirect RDMA and
// its nvidia-peermem sidecar, the k8s-driver-manager's image and env, the package repository,
// CA certificate, module parameter and vGPU licensing volumes, and an OnDelete update strategy
// whatever spec.daemonsets says. The image's tag ("-<os tag>") is the renderer's.
//
//   GPUOP_RETURN_IF_ERROR(TransformDriverDaemonSet(daemonset, pod, policy, context));

#include "absl/status/status.h"
#include <nlohmann/json.hpp>

#include "api/cluster_policy.h"
#include "operator/operand_renderer.h"

namespace gpuop::op {

// Transforms `daemonset`, whose pod spec is `pod`. InvalidArgument naming the field for an
// unknown kernel module type, a ConfigMap or Secret name the API would refuse, or a
// half-specified driver.manager image; Internal when the pod lacks k8s-driver-manager or
// nvidia-driver-ctr.
absl::Status TransformDriverDaemonSet(nlohmann::json& daemonset, nlohmann::json& pod,
                                      const api::ClusterPolicy& policy,
                                      const RenderContext& context);

}  // namespace gpuop::op
