#pragma once

// Rendering the embedded operand manifests for a ClusterPolicy spec in unit tests, and finding
// what came out: the objects, a container's image and a container's variable.

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "api/cluster_policy.h"
#include "operator/embedded_manifests.h"
#include "operator/operand_renderer.h"
#include "operator/pod_spec_edits.h"

namespace gpuop::op {

using nlohmann::json;

inline json PolicyObject(const json& spec) {
  return {{"apiVersion", "nvidia.com/v1"},
          {"kind", "ClusterPolicy"},
          {"metadata",
           {{"name", "cluster-policy"},
            {"uid", "uid-1"},
            {"generation", 1},
            {"creationTimestamp", "2026-12-01T00:00:00Z"}}},
          {"spec", spec}};
}

inline api::ClusterPolicy Parse(const json& spec) {
  absl::StatusOr<api::ClusterPolicy> policy = api::ParseClusterPolicy(PolicyObject(spec));
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *policy : api::ClusterPolicy{};
}

inline RenderContext ContextWith(std::string os_tag, bool any_container_gpu_node) {
  return {.operator_namespace = "gpu-operator",
          .gpuop_image = "registry.local/gpuop:0.5.0",
          .driver_os_tag = std::move(os_tag),
          .any_container_gpu_node = any_container_gpu_node};
}

inline std::map<std::string, RenderedState> Render(const json& spec, const RenderContext& context) {
  std::map<std::string, RenderedState> by_name;
  for (RenderedState& state : RenderOperands(Parse(spec), context, EmbeddedManifests())) {
    by_name[state.name] = std::move(state);
  }
  return by_name;
}

inline const json* Find(const std::map<std::string, RenderedState>& states, const std::string& kind,
                        const std::string& name) {
  for (const auto& [state_name, state] : states) {
    for (const json& object : state.objects) {
      if (object["kind"] == kind && object["metadata"]["name"] == name) return &object;
    }
  }
  return nullptr;
}

// The image of the container named `name` (init or main) in a DaemonSet; "" when absent.
inline std::string ImageOf(const json& daemonset, const std::string& name) {
  const json& pod = daemonset["spec"]["template"]["spec"];
  for (const char* list : {"initContainers", "containers"}) {
    if (!pod.contains(list)) continue;
    for (const json& container : pod[list]) {
      if (container.value("name", "") == name) return container.value("image", "");
    }
  }
  return "";
}

// The value of variable `name` of container `container` (a main one); "<no container>" when the
// pod has no such container.
inline std::string EnvOf(const json& daemonset, const std::string& container,
                         const std::string& name) {
  json pod = daemonset["spec"]["template"]["spec"];
  const json* entry = FindNamed(pod, "containers", container);
  return entry == nullptr ? "<no container>" : EnvValue(*entry, name);
}

}  // namespace gpuop::op
