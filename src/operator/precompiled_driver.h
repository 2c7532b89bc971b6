#pragma once

// spec.driver.usePrecompiled: NVIDIA's precompiled driver images hold modules built for one
// kernel, so the driver runs as one DaemonSet per kernel among the container GPU nodes, each
// selecting its kernel's nodes by NFD's kernel-version.full label, as NVIDIA GPU Operator v26.7
// deploys them (name nvidia-driver-daemonset-<kernel>-<os tag>, image tag
// <version>-<kernel>-<os tag>, label nvidia.com/precompiled=true).
//
//   GPUOP_ASSIGN_OR_RETURN(auto builds, PrecompiledDriverBuilds(policy, context, base_image));
//   for (const auto& build : builds) { ...render the DaemonSet with build.image...
//     MakePrecompiledDaemonSet(daemonset, build); }

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

#include "api/cluster_policy.h"
#include "operator/operand_renderer.h"

namespace gpuop::op {

// The kernel in a DaemonSet's name, as NVIDIA writes it: the architecture ("x86_64",
// "aarch64", "aarch64_64k") taken out, '_' made '.', no trailing '.', lower case.
// "5.14.0-427.13.1.el9_4.x86_64" -> "5.14.0-427.13.1.el9.4".
std::string SanitizedKernel(std::string_view kernel);

struct PrecompiledDriverBuild {
  std::string kernel;  // The label's value, as NFD wrote it.
  std::string os_tag;
  std::string image;  // base:version-<kernel>-<os tag>, or the digest as given.
  std::string name;   // nvidia-driver-daemonset-<sanitized kernel>-<os tag>
};

// One build per kernel of context.container_kernels, in kernel order; none when no container
// GPU node exists. `base_image` is the driver's image before any tag suffix (repository/image:
// version, or a digest, which is used as is). FailedPrecondition naming the nodes' labels when a
// container GPU node has no kernel label, when nodes of one kernel run different OSes, or when
// a kernel's nodes lack NFD's os_release labels; InvalidArgument when spec.gds or spec.gdrcopy
// is on (their modules are built on the node, which precompiled drivers are not) or a kernel
// gives no valid DaemonSet name.
absl::StatusOr<std::vector<PrecompiledDriverBuild>> PrecompiledDriverBuilds(
    const api::ClusterPolicy& policy, const RenderContext& context, std::string_view base_image);

// Names the rendered driver DaemonSet for `build`, labels it and its pods precompiled with the
// kernel (in the selector too, so that no two driver DaemonSets claim each other's pods), and
// selects only nodes of that kernel.
void MakePrecompiledDaemonSet(nlohmann::json& daemonset, const PrecompiledDriverBuild& build);

}  // namespace gpuop::op
