// `gpuop status`'s summary and the node patch of `gpuop uninstall-cleanup`, on objects as the
// API serves them.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_split.h"

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

TEST(SummarizeFleet, EachNodeCountsItsReadyOperandPodsAndNamesTheOthersWithWhy) {
  const json policies = json::parse(R"([{"metadata": {"name": "cluster-policy"},
      "status": {"state": "notReady", "namespace": "gpu-ops"}}])");
  const json nodes = json::array({Node("gpu-a", {{"nvidia.com/gpu.present", "true"},
                                                 {"nvidia.com/gpu.workload.config", "container"},
                                                 {"nvidia.com/gpu.deploy.driver", "true"}}),
                                  Node("gpu-b", {{"nvidia.com/gpu.present", "true"}})});
  const json pods = json::parse(R"([
      {"metadata": {"name": "nvidia-driver-daemonset-x1"}, "spec": {"nodeName": "gpu-a"},
       "status": {"phase": "Pending", "initContainerStatuses": [
           {"name": "k8s-driver-manager", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}},
      {"metadata": {"name": "nvidia-container-toolkit-daemonset-x2"},
       "spec": {"nodeName": "gpu-a"},
       "status": {"phase": "Running", "containerStatuses": [
           {"name": "main", "state": {"terminated": {"reason": "Error", "exitCode": 1}}}]}},
      {"metadata": {"name": "gpu-feature-discovery-x3"}, "spec": {"nodeName": "gpu-a"},
       "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
      {"metadata": {"name": "nvidia-operator-validator-x4",
                    "deletionTimestamp": "2026-01-01T00:00:00Z"},
       "spec": {"nodeName": "gpu-a"},
       "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
      {"metadata": {"name": "nvidia-device-plugin-daemonset-x5"}, "spec": {"nodeName": "gpu-a"},
       "status": {"phase": "Pending",
                  "initContainerStatuses": [{"name": "toolkit-validation",
                                             "state": {"running": {}}}],
                  "containerStatuses": [{"name": "main",
                                         "state": {"waiting": {"reason": "PodInitializing"}}}]}},
      {"metadata": {"name": "unscheduled"}, "spec": {}, "status": {"phase": "Pending"}}
  ])");
  const FleetStatus status = SummarizeFleet(policies, nodes, pods);
  EXPECT_THAT(status.text, HasSubstr("PODS READY"));
  EXPECT_THAT(status.text, HasSubstr("1/5"));
  EXPECT_THAT(status.text, HasSubstr("operand pods not ready:\n"));
  EXPECT_THAT(status.text, HasSubstr("gpu-a  nvidia-driver-daemonset-x1: Init:ImagePullBackOff\n"));
  EXPECT_THAT(status.text, HasSubstr("gpu-a  nvidia-container-toolkit-daemonset-x2: Error\n"));
  EXPECT_THAT(status.text, HasSubstr("gpu-a  nvidia-operator-validator-x4: Terminating\n"));
  EXPECT_THAT(
      status.text,
      HasSubstr("gpu-a  nvidia-device-plugin-daemonset-x5: Init:toolkit-validation running"));
  EXPECT_THAT(status.text, Not(HasSubstr("gpu-feature-discovery-x3")));
  EXPECT_THAT(status.text, Not(HasSubstr("unscheduled")));
  EXPECT_EQ(OperatorNamespaceOf(policies), "gpu-ops");
  EXPECT_EQ(OperatorNamespaceOf(json::array()), "");
  // Without pods (no right to list them), the table still stands, with "-" for the count.
  EXPECT_THAT(SummarizeFleet(policies, nodes).text, Not(HasSubstr("not ready:")));
}

TEST(SummarizeFleet, ContainerNodesShowTheirMigLayoutSharingAndExporter) {
  const json policies = json::parse(R"([{"metadata": {"name": "cluster-policy"},
      "status": {"state": "ready"}}])");
  const json nodes = json::array(
      {Node("gpu-mig", {{"nvidia.com/gpu.present", "true"},
                        {"nvidia.com/mig.config", "all-1g.10gb"},
                        {"nvidia.com/mig.config.state", "pending"},
                        {"nvidia.com/gpu.deploy.device-plugin", "paused-for-mig-change"},
                        {"nvidia.com/gpu.deploy.dcgm-exporter", "paused-for-mig-change"}}),
       Node("gpu-ts", {{"nvidia.com/gpu.present", "true"},
                       {"nvidia.com/mig.config", "all-disabled"},
                       {"nvidia.com/mig.config.state", "success"},
                       {"nvidia.com/device-plugin.config", "ts-4"},
                       {"nvidia.com/gpu.sharing-strategy", "time-slicing"},
                       {"nvidia.com/gpu.replicas", "4"},
                       {"nvidia.com/gpu.deploy.dcgm-exporter", "true"}}),
       Node("gpu-plain", {{"nvidia.com/gpu.present", "true"}})});
  const json pods = json::parse(R"([
      {"metadata": {"name": "nvidia-dcgm-exporter-a", "labels": {"app": "nvidia-dcgm-exporter"}},
       "spec": {"nodeName": "gpu-ts"},
       "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
      {"metadata": {"name": "nvidia-dcgm-exporter-b", "labels": {"app": "nvidia-dcgm-exporter"}},
       "spec": {"nodeName": "gpu-plain"},
       "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}}
  ])");
  const std::string text = SummarizeFleet(policies, nodes, pods).text;
  EXPECT_THAT(text, HasSubstr("MIG"));
  EXPECT_THAT(text, HasSubstr("SHARING"));
  EXPECT_THAT(text, HasSubstr("EXPORTER"));
  std::map<std::string, std::string> rows;
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(text, '\n'))) {
    if (line.starts_with("gpu-")) rows[line.substr(0, line.find(' '))] = line;
  }
  // A repartition in progress reads as such, not as a fault.
  EXPECT_THAT(rows["gpu-mig"], HasSubstr("all-1g.10gb: reconfiguring"));
  EXPECT_THAT(rows["gpu-mig"], HasSubstr("device-plugin(paused)"));
  EXPECT_THAT(rows["gpu-ts"], HasSubstr("all-disabled: success"));
  EXPECT_THAT(rows["gpu-ts"], HasSubstr("ts-4: time-slicing x4"));
  EXPECT_THAT(rows["gpu-ts"], testing::EndsWith("up"));
  EXPECT_THAT(rows["gpu-plain"], HasSubstr("(default)"));
  EXPECT_THAT(rows["gpu-plain"], testing::EndsWith("down"));
  EXPECT_THAT(rows["gpu-mig"], testing::EndsWith("-")) << "no exporter pod there";
}

}  // namespace
}  // namespace gpuop::op
