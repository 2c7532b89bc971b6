// `gpuop status`'s summary and the node patch of `gpuop uninstall-cleanup`, on objects as the
// API serves them.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "operator/fleet_status.h"
#include "operator/uninstall_cleanup.h"

namespace gpuop::op {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(UninstallNodePatch, TakesOffWhatGpuopWroteAndLeavesTheAdminsLabels) {
  const json labels = {{"nvidia.com/gpu.present", "true"},
                       {"nvidia.com/gpu.deploy.vfio-manager", "true"},
                       {"nvidia.com/gpu.deploy.sandbox-validator", "paused-for-cc-mode-change"},
                       {"nvidia.com/gpu.deploy.operands", "true"},
                       {"nvidia.com/gpu.deploy.driver", "false"},
                       {"nvidia.com/gpu.workload.config", "vm-passthrough"},
                       {"nvidia.com/cc.mode", "on"},
                       {"nvidia.com/cc.mode.state", "on"},
                       {"nvidia.com/cc.ready.state", "true"},
                       {"nvidia.com/cc.capable", "true"},
                       {"feature.node.kubernetes.io/pci-10de.present", "true"},
                       {"kubernetes.io/hostname", "n1"}};
  const json annotations = {{"gpuop.io/kata-artifacts", "{}"}, {"node.alpha/keep", "x"}};
  const json patch = UninstallNodePatch(labels, annotations);
  EXPECT_EQ(patch, json::parse(R"({"metadata": {
      "labels": {"nvidia.com/gpu.present": null, "nvidia.com/gpu.deploy.vfio-manager": null,
                 "nvidia.com/gpu.deploy.sandbox-validator": null,
                 "nvidia.com/cc.mode.state": null, "nvidia.com/cc.ready.state": null,
                 "nvidia.com/cc.capable": null},
      "annotations": {"gpuop.io/kata-artifacts": null}}})"));
  EXPECT_TRUE(UninstallNodePatch({{"kubernetes.io/hostname", "n2"}}, json::object()).is_null());
  // Without NFD's labels gpu.present is the admin's own (nothing else sets it there).
  EXPECT_TRUE(UninstallNodePatch({{"nvidia.com/gpu.present", "true"},
                                  {"nvidia.com/gpu.deploy.vfio-manager", "false"}},
                                 json::object())
                  .is_null());
  EXPECT_TRUE(UninstallNodePatch(nullptr, nullptr).is_null());
}

json Node(const std::string& name, const json& labels) {
  return {{"metadata", {{"name", name}, {"labels", labels}}}};
}

TEST(SummarizeFleet, TheOldestPolicyDecidesAndEachGpuNodeShowsItsOperands) {
  const json policies = json::parse(R"([
      {"metadata": {"name": "newer", "creationTimestamp": "2026-02-01T00:00:00Z"},
       "status": {"state": "notReady"}},
      {"metadata": {"name": "cluster-policy", "creationTimestamp": "2026-01-01T00:00:00Z"},
       "status": {"state": "ready", "conditions": [
           {"type": "Ready", "status": "True", "reason": "Reconciled", "message": "all ready"}]}}
  ])");
  const json nodes = json::array(
      {Node("gpu-a", {{"nvidia.com/gpu.present", "true"},
                      {"nvidia.com/gpu.workload.config", "vm-passthrough"},
                      {"nvidia.com/gpu.deploy.vfio-manager", "true"},
                      {"nvidia.com/gpu.deploy.sandbox-validator", "paused-for-cc-mode-change"},
                      {"nvidia.com/gpu.deploy.driver", "false"},
                      {"nvidia.com/cc.mode.state", "on"}}),
       Node("cpu-only", {{"kubernetes.io/hostname", "cpu-only"}})});
  const FleetStatus status = SummarizeFleet(policies, nodes);
  EXPECT_TRUE(status.ready);
  EXPECT_THAT(status.text, HasSubstr("ClusterPolicy cluster-policy: ready\n"));
  EXPECT_THAT(status.text, HasSubstr("Ready=True Reconciled: all ready"));
  EXPECT_THAT(status.text, HasSubstr("sandbox-validator(paused),vfio-manager"));
  EXPECT_THAT(status.text, HasSubstr("vm-passthrough"));
  EXPECT_THAT(status.text, Not(HasSubstr("driver")));
  EXPECT_THAT(status.text, Not(HasSubstr("cpu-only")));

  EXPECT_FALSE(SummarizeFleet(json::array(), nodes).ready);
  EXPECT_THAT(SummarizeFleet(json::array(), json::array()).text, HasSubstr("no ClusterPolicy"));
  EXPECT_FALSE(SummarizeFleet(json::array({policies[0]}), nodes).ready);
}

}  // namespace
}  // namespace gpuop::op
