// PolicyStatus: state and the Ready/Error pair for each situation, and transition times that
// move only when a condition's status does.

#include "operator/policy_status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gpuop::op {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kEarlier[] = "2026-11-23T10:00:00Z";
constexpr char kNow[] = "2026-11-23T12:00:00Z";

PolicyFacts Active() {
  return {.name = "cluster-policy",
          .active_name = "cluster-policy",
          .operator_namespace = "gpu-operator",
          .gpu_nodes_by_workload = {{"container", 1}, {"vm-passthrough", 2}}};
}

const json& ConditionOf(const json& status, const std::string& type) {
  for (const json& condition : status["conditions"]) {
    if (condition["type"] == type) return condition;
  }
  static const json none;
  return none;
}

TEST(PolicyStatus, AllNodesRoutedIsReadyAndCountsThem) {
  const json status = PolicyStatus(Active(), json(), kNow);
  EXPECT_EQ(status["state"], "ready");
  EXPECT_EQ(status["namespace"], "gpu-operator");
  EXPECT_EQ(ConditionOf(status, "Ready")["status"], "True");
  EXPECT_EQ(ConditionOf(status, "Ready")["reason"], "Reconciled");
  EXPECT_EQ(ConditionOf(status, "Ready")["message"],
            "3 GPU node(s) routed: 1 container, 2 vm-passthrough");
  EXPECT_EQ(ConditionOf(status, "Error")["status"], "False");
  EXPECT_EQ(ConditionOf(status, "Ready")["lastTransitionTime"], kNow);
}

TEST(PolicyStatus, NoGpuNodesIsReadyAndSaysSo) {
  PolicyFacts facts = Active();
  facts.gpu_nodes_by_workload.clear();
  facts.nodes_with_nfd_labels = 3;
  const json status = PolicyStatus(facts, json(), kNow);
  EXPECT_EQ(status["state"], "ready");
  EXPECT_EQ(ConditionOf(status, "Ready")["reason"], "NoGPUNodes");
  EXPECT_THAT(ConditionOf(status, "Ready")["message"].get<std::string>(),
              HasSubstr("Node Feature Discovery labelled 3 node(s), none with an NVIDIA PCI"));
}

TEST(PolicyStatus, NoNodeLabelledByNfdSaysNfdIsWhatIsMissing) {
  PolicyFacts facts = Active();
  facts.gpu_nodes_by_workload.clear();
  const json status = PolicyStatus(facts, json(), kNow);
  EXPECT_EQ(status["state"], "ready");  // As NVIDIA's: no GPU nodes is not an error.
  EXPECT_EQ(ConditionOf(status, "Ready")["reason"], "NFDLabelsMissing");
  EXPECT_THAT(ConditionOf(status, "Ready")["message"].get<std::string>(),
              HasSubstr("install NFD (the chart's nfd.enabled=true)"));
}

TEST(PolicyStatus, InvalidWorkloadLabelsNameTheNodes) {
  PolicyFacts facts = Active();
  facts.invalid_nodes = {{"gpu-7", "vm-pass"}, {"gpu-9", "kata"}};
  const json status = PolicyStatus(facts, json(), kNow);
  EXPECT_EQ(status["state"], "notReady");
  const json& error = ConditionOf(status, "Error");
  EXPECT_EQ(error["status"], "True");
  EXPECT_EQ(error["reason"], "InvalidWorkloadConfig");
  EXPECT_THAT(error["message"].get<std::string>(),
              HasSubstr("2 GPU node(s) have a nvidia.com/gpu.workload.config"));
  EXPECT_THAT(error["message"].get<std::string>(),
              HasSubstr("gpu-7 (\"vm-pass\"), gpu-9 (\"kata\")"));
  EXPECT_EQ(ConditionOf(status, "Ready")["status"], "False");
}

TEST(PolicyStatus, OperandsNotRolledOutAreNotReadyAndNamed) {
  PolicyFacts facts = Active();
  facts.operands.not_ready = {"nvidia-vfio-manager: 1 of 2 pods available",
                              "nvidia-cc-manager: not created yet"};
  const json status = PolicyStatus(facts, json(), kNow);
  EXPECT_EQ(status["state"], "notReady");
  EXPECT_EQ(ConditionOf(status, "Ready")["reason"], "OperandNotReady");
  EXPECT_EQ(ConditionOf(status, "Error")["status"], "True");
  EXPECT_EQ(ConditionOf(status, "Ready")["message"],
            "operands not ready: nvidia-vfio-manager: 1 of 2 pods available; "
            "nvidia-cc-manager: not created yet");
}

TEST(PolicyStatus, AnOperandThatCannotBeAppliedOutranksTheRest) {
  PolicyFacts facts = Active();
  facts.invalid_nodes = {{"gpu-7", "vm-pass"}};
  facts.operands.not_ready = {"nvidia-vfio-manager: 0 of 1 pods available"};
  facts.operands.error = "state-sandbox-device-plugin: spec.sandboxDevicePlugin: version not set";
  const json status = PolicyStatus(facts, json(), kNow);
  EXPECT_EQ(status["state"], "notReady");
  EXPECT_EQ(ConditionOf(status, "Error")["reason"], "ReconcileFailed");
  EXPECT_THAT(ConditionOf(status, "Error")["message"].get<std::string>(),
              HasSubstr("spec.sandboxDevicePlugin: version not set"));
}

TEST(PolicyStatus, ManyInvalidNodesAreCutShort) {
  PolicyFacts facts = Active();
  for (int i = 0; i < 25; ++i) facts.invalid_nodes["node-" + std::to_string(100 + i)] = "x";
  const std::string message = ConditionOf(PolicyStatus(facts, json(), kNow), "Error")["message"];
  EXPECT_THAT(message, HasSubstr("node-109 (\"x\") and 15 more"));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("node-110")));
}

TEST(PolicyStatus, ANewerPolicyIsIgnoredWithoutAnError) {
  PolicyFacts facts = Active();
  facts.name = "second-policy";
  const json status = PolicyStatus(facts, json(), kNow);
  EXPECT_EQ(status["state"], "ignored");
  EXPECT_EQ(ConditionOf(status, "Ready")["status"], "False");
  EXPECT_EQ(ConditionOf(status, "Ready")["reason"], "Ignored");
  EXPECT_THAT(ConditionOf(status, "Ready")["message"].get<std::string>(),
              HasSubstr("ClusterPolicy cluster-policy is older"));
  EXPECT_EQ(ConditionOf(status, "Error")["status"], "False");
}

TEST(PolicyStatus, AnUnusableSpecIsAnError) {
  PolicyFacts facts = Active();
  facts.parse_error = "ClusterPolicy cluster-policy: spec.sandboxWorkloads.mode: ...";
  const json status = PolicyStatus(facts, json(), kNow);
  EXPECT_EQ(status["state"], "notReady");
  EXPECT_EQ(ConditionOf(status, "Error")["reason"], "InvalidSpec");
  EXPECT_EQ(ConditionOf(status, "Error")["message"], facts.parse_error);
}

TEST(PolicyStatus, TransitionTimesMoveOnlyWithTheStatus) {
  const json before = PolicyStatus(Active(), json(), kEarlier);
  // Same verdict, new counts: times stay, but the message changed, so it is written.
  PolicyFacts more = Active();
  more.gpu_nodes_by_workload["vm-passthrough"] = 5;
  const json counted = PolicyStatus(more, before, kNow);
  EXPECT_EQ(ConditionOf(counted, "Ready")["lastTransitionTime"], kEarlier);
  EXPECT_TRUE(StatusDiffers(counted, before));
  // Nothing new: nothing to write.
  EXPECT_FALSE(StatusDiffers(PolicyStatus(Active(), before, kNow), before));
  // Ready flips: its time moves.
  PolicyFacts broken = Active();
  broken.invalid_nodes = {{"gpu-1", "x"}};
  const json flipped = PolicyStatus(broken, before, kNow);
  EXPECT_EQ(ConditionOf(flipped, "Ready")["lastTransitionTime"], kNow);
  EXPECT_EQ(ConditionOf(flipped, "Error")["lastTransitionTime"], kNow);
}

}  // namespace
}  // namespace gpuop::op
