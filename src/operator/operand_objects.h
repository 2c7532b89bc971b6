#pragma once

// Where each kind of object the operand manifests hold lives in the API, and which kinds the
// operator lists to find what it applied earlier and must now prune.

#include <vector>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

#include "kube/resource.h"

namespace gpuop::op {

inline const kube::Resource kNodeFeatureRules{"nfd.k8s-sigs.io", "v1alpha1", "nodefeaturerules",
                                              false};
// The CRD whose presence turns nfd.nodefeaturerules into objects.
inline constexpr char kNodeFeatureRuleCrd[] = "nodefeaturerules.nfd.k8s-sigs.io";

// Prometheus Operator's scrape config, for the DCGM exporter; applied only where its CRD is.
inline const kube::Resource kServiceMonitors{"monitoring.coreos.com", "v1", "servicemonitors",
                                             true};
inline constexpr char kServiceMonitorCrd[] = "servicemonitors.monitoring.coreos.com";

// The Resource of an object by its apiVersion and kind; InvalidArgument for a kind gpuop does
// not apply (a manifest bug, caught by the renderer's tests).
absl::StatusOr<kube::Resource> ResourceOf(const nlohmann::json& object);

// Every kind gpuop applies, in the order prune deletes them (workloads before their RBAC).
const std::vector<kube::Resource>& AppliedKinds();

}  // namespace gpuop::op
