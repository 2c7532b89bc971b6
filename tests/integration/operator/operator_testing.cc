#include "tests/integration/operator/operator_testing.h"

#include <gtest/gtest.h>

#include "tests/integration/testenv.h"

namespace gpuop::testing {

void InstallClusterPolicyCrd() {
  const std::string crd = std::string(GPUOP_SOURCE_DIR) +
                          "/deployments/helm/gpuop/crds/nvidia.com_clusterpolicies.yaml";
  common::ProcessResult applied = Kubectl({"apply", "--server-side", "-f", crd});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  common::ProcessResult established = Kubectl(
      {"wait", "--for=condition=Established", "--timeout=60s", "crd/clusterpolicies.nvidia.com"});
  ASSERT_EQ(established.exit_code, 0) << established.err;
}

nlohmann::json SeedClusterPolicy(const std::string& name, const nlohmann::json& spec_patch) {
  nlohmann::json object = {
      {"apiVersion", "nvidia.com/v1"},
      {"kind", "ClusterPolicy"},
      {"metadata", {{"name", name}}},
      {"spec",
       {{"operator", {{"defaultRuntime", "containerd"}, {"runtimeClass", "nvidia"}}},
        {"daemonsets", {{"priorityClassName", "system-node-critical"}}},
        {"driver", {{"enabled", true}, {"useOpenKernelModules", false}}},
        {"sandboxWorkloads", {{"enabled", true}}},
        {"kataManager",
         {{"enabled", true},
          {"config",
           {{"runtimeClasses",
             {{{"name", "kata-nvidia-gpu"},
               {"artifacts", {{"url", "nvcr.io/nvidia/cloud-native/kata-gpu-artifacts:x"}}}}}}}}}},
        {"ccManager", {{"enabled", true}, {"defaultMode", "on"}}},
        {"vgpuManager", {{"enabled", false}, {"driverManager", {{"image", "dm"}}}}},
        {"cdi", {{"enabled", true}, {"default", false}}}}}};
  object["spec"].merge_patch(spec_patch);
  return object;
}

}  // namespace gpuop::testing
