#pragma once

// The kata manager's config, `ClusterPolicy.spec.kataManager.config` as the operator renders it
// into the agent's ConfigMap, in the shape of NVIDIA k8s-kata-manager v0.2.3
// (api/v1alpha1/config/types.go; NVIDIA's operator mounted it as config.yaml):
//
//   artifactsDir: /opt/nvidia-gpu-operator/artifacts/runtimeclasses
//   runtimeClasses:
//   - name: kata-qemu-nvidia-gpu
//     nodeSelector: {}
//     artifacts:
//       url: nvcr.io/nvidia/cloud-native/kata-gpu-artifacts:ubuntu22.04-535.54.03
//       pullSecret: ""
//
// Unlike NVIDIA's agent, a bad entry is an error naming it, not silently dropped.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "api/paths.h"
#include "oci/reference.h"

namespace gpuop::operands {

struct RuntimeClassArtifacts {
  std::string name;  // The RuntimeClass and containerd handler name.
  std::map<std::string, std::string> node_selector;
  oci::Reference artifacts;
  std::string url;          // As written, for logs and the node annotation.
  std::string pull_secret;  // A kubernetes.io/dockerconfigjson Secret in the agent's namespace.
};

struct KataManagerConfig {
  std::string artifacts_dir = api::kDefaultKataArtifactsDir;
  std::vector<RuntimeClassArtifacts> runtime_classes;
};

absl::StatusOr<KataManagerConfig> ParseKataManagerConfig(const std::string& yaml);

// True when every key of the selector has that value among `labels` (an empty selector: all).
bool SelectorMatches(const std::map<std::string, std::string>& selector,
                     const std::map<std::string, std::string>& labels);

}  // namespace gpuop::operands
