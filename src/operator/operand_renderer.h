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

#include <map>
#include <optional>
#include <set>
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
  // Facts of the GPU nodes the container path renders from (NVIDIA's operator reads them from
  // the Nodes each pass): the OS tag of the first nvidia.com/gpu.present=true node ("ubuntu24.04",
  // "rhel9"; "" when no GPU node has NFD's os_release labels), which the driver image's tag ends
  // in, and the container runtime the toolkit configures ("containerd", "crio", "docker").
  std::string driver_os_tag;
  std::string container_runtime = "containerd";
  // Whether any GPU node is routed to the container workload. Without one, a driver image whose
  // tag needs an OS tag nobody has is not an error: its DaemonSet would select no node (it is
  // left out).
  bool any_container_gpu_node = false;
  // spec.driver.usePrecompiled: the container GPU nodes' kernels (NFD's kernel-version.full),
  // each with the OS tags of its nodes; one driver DaemonSet runs per kernel. And how many
  // container GPU nodes have no kernel label, which such a driver cannot serve.
  std::map<std::string, std::set<std::string>> container_kernels;
  int container_nodes_without_kernel = 0;
  // spec key ("driver") -> the image used when the policy's section names none (the operator's
  // $DRIVER_IMAGE etc., defaulting to api::kFallbackImages). Empty: the table's defaults.
  std::map<std::string, std::string> fallback_images;
  // The checked copies of the admin's configs (checked_configs.h): the data of
  // kCheckedDevicePluginConfigs and kCheckedMigConfig; unset, that copy is not rendered.
  std::optional<std::map<std::string, std::string>> checked_device_plugin_configs;
  std::optional<std::map<std::string, std::string>> checked_mig_config;
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

// The image the container path's section `spec_key` runs: the section's own when it names one
// (OperandImage), else the context's fallback, else api::kFallbackImages'. The driver's, and its
// GDS and GDRCopy sidecars', get the OS tag appended (NVIDIA's tag scheme) unless a digest;
// without an OS tag that is an error naming the labels wanted.
absl::StatusOr<std::string> ContainerOperandImage(const api::ClusterPolicy& policy,
                                                  std::string_view spec_key,
                                                  const RenderContext& context);

// The same before any OS tag: what a precompiled driver's tag is built on.
absl::StatusOr<std::string> UntaggedContainerImage(const api::ClusterPolicy& policy,
                                                   std::string_view spec_key,
                                                   const RenderContext& context);

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
