#pragma once

// Shared by the operator's integration tests: the chart's ClusterPolicy CRD installed on the
// test control plane, and ClusterPolicies made the way NVIDIA's chart renders them.

#include <string>

#include <nlohmann/json.hpp>

namespace gpuop::testing {

// Applies deployments/helm/gpuop/crds/ and waits until the CRD is Established; records a test
// failure otherwise.
void InstallClusterPolicyCrd();

// A ClusterPolicy object named `name` as NVIDIA's chart renders it, with `spec_patch` merged
// into its spec (JSON merge patch).
nlohmann::json SeedClusterPolicy(const std::string& name,
                                 const nlohmann::json& spec_patch = nlohmann::json::object());

}  // namespace gpuop::testing
