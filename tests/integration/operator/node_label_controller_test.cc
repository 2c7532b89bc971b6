// The node-labelling controller against the real kube-apiserver: Nodes are plain API objects
// labelled as NFD would, the ClusterPolicy is the seeds', and what is asserted is the labels
// the controller leaves on each node, its Events, and that a restart writes nothing.

#include "operator/node_label_controller.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "operator/container_node_facts.h"
#include "operator/operator_controllers.h"
#include "tests/integration/kube/informer_testing.h"
#include "tests/integration/operator/operator_testing.h"

namespace gpuop::op {
namespace {

using kube::json;
using kube::WaitFor;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRun[] = "node-labels";
constexpr char kNfdGpu[] = "feature.node.kubernetes.io/pci-10de.present";

class NodeLabelControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gpuop::testing::InstallClusterPolicyCrd();
    client_ = kube::AdminClient();
    policy_ = gpuop::testing::UniqueName("cluster-policy");
    auto created = client_->Create(
        kClusterPolicies, "",
        gpuop::testing::SeedClusterPolicy(policy_, {{"sandboxWorkloads", {{"mode", "kata"}}}}));
    ASSERT_TRUE(created.ok()) << created.status();
  }
  void TearDown() override {
    (void)client_->Delete(kClusterPolicies, "", policy_);
    kube::DeleteLabelledNodes(*client_, kRun);
  }

  std::string CreateNode(const std::string& prefix, const json& labels) {
    const std::string name = gpuop::testing::UniqueName(prefix);
    json node = kube::LabelledNode(name, kRun);
    node["metadata"]["labels"].update(labels);
    auto created = client_->Create(kube::resources::kNodes, "", node);
    EXPECT_TRUE(created.ok()) << created.status();
    return name;
  }
  // The node's labels under nvidia.com/gpu.*, as "key=value" lines, sorted.
  std::string GpuLabels(const std::string& node) {
    auto object = client_->Get(kube::resources::kNodes, "", node);
    if (!object.ok()) return object.status().ToString();
    std::string lines;
    for (const auto& [key, value] : (*object)["metadata"]["labels"].items()) {
      if (key.rfind("nvidia.com/gpu.", 0) == 0)
        lines += key + "=" + value.get<std::string>() + "\n";
    }
    return lines;
  }
  // The policy's status.state and its Error condition's message, "state: message".
  std::string PolicyState(const std::string& name) {
    auto object = client_->Get(kClusterPolicies, "", name);
    if (!object.ok()) return object.status().ToString();
    const json& status = (*object)["status"];
    if (!status.is_object()) return "no status";
    std::string message;
    for (const json& condition : status.value("conditions", json::array())) {
      if (condition.value("type", "") == "Error") message = condition.value("message", "");
    }
    return status.value("state", "") + ": " + message;
  }
  // When the policy `name` was created, to the second (its creationTimestamp); the infinite
  // future when that cannot be read.
  absl::Time CreatedAt(const std::string& name) {
    auto object = client_->Get(kClusterPolicies, "", name);
    if (!object.ok()) return absl::InfiniteFuture();
    absl::Time created;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full,
                         (*object)["metadata"].value("creationTimestamp", std::string()), &created,
                         &error)) {
      return absl::InfiniteFuture();
    }
    return created;
  }
  bool LabelsBecome(const std::string& node, const std::string& expected) {
    return WaitFor([&] { return GpuLabels(node) == expected; }, std::chrono::seconds(20));
  }

  std::unique_ptr<kube::RestClient> client_;
  std::string policy_;
  std::ostringstream log_text_;
  common::Logger log_{log_text_, common::LogFormat::kText};
};

constexpr char kContainerLabels[] =
    "nvidia.com/gpu.deploy.client=true\n"
    "nvidia.com/gpu.deploy.container-toolkit=true\n"
    "nvidia.com/gpu.deploy.dcgm=true\n"
    "nvidia.com/gpu.deploy.dcgm-exporter=true\n"
    "nvidia.com/gpu.deploy.device-plugin=true\n"
    "nvidia.com/gpu.deploy.driver=true\n"
    "nvidia.com/gpu.deploy.gpu-feature-discovery=true\n"
    "nvidia.com/gpu.deploy.node-status-exporter=true\n"
    "nvidia.com/gpu.deploy.operator-validator=true\n"
    "nvidia.com/gpu.present=true\n";
constexpr char kPassthroughLabels[] =
    "nvidia.com/gpu.deploy.cc-manager=true\n"
    "nvidia.com/gpu.deploy.client=true\n"
    "nvidia.com/gpu.deploy.kata-manager=true\n"
    "nvidia.com/gpu.deploy.kata-sandbox-device-plugin=true\n"
    "nvidia.com/gpu.deploy.sandbox-validator=true\n"
    "nvidia.com/gpu.deploy.vfio-manager=true\n"
    "nvidia.com/gpu.present=true\n"
    "nvidia.com/gpu.workload.config=vm-passthrough\n";

TEST_F(NodeLabelControllerTest, LabelsEachNodeForItsWorkloadAndFollowsChanges) {
  const std::string container = CreateNode("gpu-container", {{kNfdGpu, "true"}});
  const std::string passthrough = CreateNode(
      "gpu-vm", {{kNfdGpu, "true"}, {"nvidia.com/gpu.workload.config", "vm-passthrough"}});
  const std::string cpu_only =
      CreateNode("cpu-only", {{"feature.node.kubernetes.io/kernel-version.major", "6"}});
  const std::string typo =
      CreateNode("gpu-typo", {{kNfdGpu, "true"}, {"nvidia.com/gpu.workload.config", "vm-pass"}});

  kube::EventRecorder recorder(*client_, "gpuop.io/operator", "test");
  // The controller as the operator runs it: with the one ClusterPolicy cache it shares.
  OperatorControllers controller_controllers(
      *client_, recorder, log_,
      {.labels = {.operator_namespace = "gpu-operator"}, .deploy_operands = false});
  ASSERT_TRUE(controller_controllers.Start(std::chrono::seconds(20)));
  NodeLabelController& controller = controller_controllers.Labels();

  EXPECT_TRUE(LabelsBecome(container, kContainerLabels)) << GpuLabels(container);
  EXPECT_TRUE(LabelsBecome(passthrough, kPassthroughLabels)) << GpuLabels(passthrough);
  EXPECT_TRUE(LabelsBecome(typo,
                           "nvidia.com/gpu.present=true\n"
                           "nvidia.com/gpu.workload.config=vm-pass\n"))
      << GpuLabels(typo);
  EXPECT_EQ(GpuLabels(cpu_only), "");
  EXPECT_TRUE(WaitFor([&] { return controller.InvalidNodes().contains(typo); }));
  EXPECT_EQ(controller.InvalidNodes()[typo], "vm-pass");

  // The Warning on the node with the bad label, where `kubectl describe node` shows it: that
  // matches on the node's uid, which the controller reads when it records the Event.
  absl::StatusOr<json> typo_node = client_->Get(kube::resources::kNodes, "", typo);
  ASSERT_TRUE(typo_node.ok()) << typo_node.status();
  const std::string typo_uid = (*typo_node)["metadata"]["uid"];
  bool warned = WaitFor([&] {
    auto events = client_->ListAll(kube::resources::kEvents, "default");
    if (!events.ok()) return false;
    for (const json& event : events->items) {
      if (event["regarding"].value("name", "") == typo &&
          event.value("reason", "") == "InvalidWorkloadConfig") {
        return event.value("type", "") == "Warning" &&
               event["regarding"].value("uid", "") == typo_uid &&
               event.value("note", "").find("\"vm-pass\" is not one of") != std::string::npos;
      }
    }
    return false;
  });
  EXPECT_TRUE(warned);
  EXPECT_TRUE(WaitFor([&] {
    const std::string state = PolicyState(policy_);
    return state.rfind("notReady: ", 0) == 0 && state.find(typo) != std::string::npos;
  })) << PolicyState(policy_);

  // An agent pauses an operand; the admin moves the container node to VMs and fixes the typo.
  ASSERT_TRUE(client_
                  ->MergePatch(
                      kube::resources::kNodes, "", passthrough,
                      {{"metadata",
                        {{"labels",
                          {{"nvidia.com/gpu.deploy.vfio-manager", "paused-for-cc-mode-change"}}}}}})
                  .ok());
  ASSERT_TRUE(
      client_
          ->MergePatch(
              kube::resources::kNodes, "", container,
              {{"metadata", {{"labels", {{"nvidia.com/gpu.workload.config", "vm-passthrough"}}}}}})
          .ok());
  ASSERT_TRUE(
      client_
          ->MergePatch(
              kube::resources::kNodes, "", typo,
              {{"metadata", {{"labels", {{"nvidia.com/gpu.workload.config", "vm-passthrough"}}}}}})
          .ok());
  EXPECT_TRUE(LabelsBecome(container, kPassthroughLabels)) << GpuLabels(container);
  EXPECT_TRUE(LabelsBecome(typo, kPassthroughLabels)) << GpuLabels(typo);
  EXPECT_TRUE(WaitFor([&] { return !controller.InvalidNodes().contains(typo); }));
  EXPECT_TRUE(WaitFor([&] { return PolicyState(policy_).rfind("ready: ", 0) == 0; }))
      << PolicyState(policy_);
  const json ready = client_->Get(kClusterPolicies, "", policy_).value_or(json())["status"];
  EXPECT_EQ(ready["namespace"], "gpu-operator");
  EXPECT_THAT(ready["conditions"][0]["message"].get<std::string>(),
              HasSubstr("GPU node(s) routed"));
  std::string paused = kPassthroughLabels;
  paused.replace(paused.find("vfio-manager=true"), 17, "vfio-manager=paused-for-cc-mode-change");
  EXPECT_TRUE(LabelsBecome(passthrough, paused)) << GpuLabels(passthrough);
  EXPECT_GE(controller.GpuNodesByWorkload()["vm-passthrough"], 3);
  controller_controllers.Stop();
  const json status_before = client_->Get(kClusterPolicies, "", policy_).value_or(json())["status"];

  // A restarted operator finds every node right and writes nothing. Other tests' Nodes share
  // this control plane, and their agents may change deploy labels meanwhile, which the
  // restarted operator rightly puts back: only writes to this test's Nodes count.
  auto nodes = client_->ListAll(kube::resources::kNodes, "");
  ASSERT_TRUE(nodes.ok());
  const size_t log_before_restart = log_text_.str().size();
  // The controller as the operator runs it: with the one ClusterPolicy cache it shares.
  OperatorControllers restarted_controllers(
      *client_, recorder, log_,
      {.labels = {.operator_namespace = "gpu-operator"}, .deploy_operands = false});
  ASSERT_TRUE(restarted_controllers.Start(std::chrono::seconds(20)));
  NodeLabelController& restarted = restarted_controllers.Labels();
  EXPECT_TRUE(WaitFor([&] {
    return restarted.Stats().reconciles.load() >= static_cast<int64_t>(nodes->items.size());
  }));
  // The status is written again only if it is not what the first controller left: the
  // control plane is shared with tests running beside this one, whose GPU nodes count too, and
  // the first controller may have stopped with a write still pending. Past the status write's
  // delay, then, unless a write comes first.
  WaitFor([&] { return restarted.Stats().status_writes.load() > 0; }, std::chrono::seconds(2));
  const json status_after = client_->Get(kClusterPolicies, "", policy_).value_or(json())["status"];
  if (restarted.Stats().status_writes.load() > 0) {
    EXPECT_NE(status_after, status_before) << "a status write that changed nothing";
  } else {
    EXPECT_EQ(status_after, status_before);
  }
  EXPECT_EQ(restarted.Stats().errors.load(), 0);
  restarted_controllers.Stop();  // Its workers no longer write the log.
  const std::string restart_log = log_text_.str().substr(log_before_restart);
  for (const std::string& node : {container, passthrough, cpu_only, typo}) {
    EXPECT_THAT(restart_log, Not(HasSubstr("msg=\"node labels updated\" node=" + node + " ")))
        << restart_log;
  }
}

// The configs the container nodes' labels pick (ContainerNodeFacts), kept as nodes are
// relabelled, leave the container workload and go: what the operand controller checks the
// admin's ConfigMaps against.
TEST_F(NodeLabelControllerTest, TheConfigsContainerNodesPickFollowTheirLabels) {
  const std::string mig_node = CreateNode("gpu-a", {{kNfdGpu, "true"},
                                                    {"nvidia.com/gpu.workload.config", "container"},
                                                    {"nvidia.com/mig.capable", "true"},
                                                    {"nvidia.com/mig.config", "all-1g.10gb"},
                                                    {"nvidia.com/device-plugin.config", "ts"}});
  // Not MIG-capable: nothing reads its nvidia.com/mig.config.
  const std::string plain_node =
      CreateNode("gpu-b", {{kNfdGpu, "true"},
                           {"nvidia.com/gpu.workload.config", "container"},
                           {"nvidia.com/mig.config", "all-7g.80gb"},
                           {"nvidia.com/device-plugin.config", "ts"}});
  // A sandbox node's pick is not the container path's.
  CreateNode("gpu-vm", {{kNfdGpu, "true"},
                        {"nvidia.com/gpu.workload.config", "vm-passthrough"},
                        {"nvidia.com/device-plugin.config", "vm"}});
  kube::EventRecorder recorder(*client_, "gpuop.io/operator", "test");
  OperatorControllers controllers(
      *client_, recorder, log_,
      {.labels = {.operator_namespace = "gpu-operator"}, .deploy_operands = false});
  ASSERT_TRUE(controllers.Start(std::chrono::seconds(20)));
  NodeLabelController& controller = controllers.Labels();
  const auto picks = [&] {
    const ContainerNodeFacts facts = controller.ContainerFacts();
    std::string text;
    for (const auto& [picked, by] : {std::pair{"plugin", &facts.device_plugin_configs},
                                     std::pair{"mig", &facts.mig_configs}}) {
      for (const auto& [config, pick] : *by) {
        absl::StrAppend(&text, picked, ":", config, "=", pick.nodes, "/", pick.first_node, " ");
      }
    }
    return text;
  };
  const auto picks_become = [&](const std::string& expected) {
    return WaitFor([&] { return picks() == expected; }, std::chrono::seconds(20));
  };
  EXPECT_TRUE(
      picks_become(absl::StrCat("plugin:ts=2/", mig_node, " mig:all-1g.10gb=1/", mig_node, " ")))
      << picks();
  const auto relabel = [&](const std::string& node, const json& labels) {
    ASSERT_TRUE(
        client_->MergePatch(kube::resources::kNodes, "", node, {{"metadata", {{"labels", labels}}}})
            .ok());
  };
  relabel(mig_node, {{"nvidia.com/device-plugin.config", "t5"}});
  EXPECT_TRUE(picks_become(absl::StrCat("plugin:t5=1/", mig_node, " plugin:ts=1/", plain_node,
                                        " mig:all-1g.10gb=1/", mig_node, " ")))
      << picks();
  relabel(plain_node, {{"nvidia.com/gpu.workload.config", "vm-passthrough"}});
  EXPECT_TRUE(
      picks_become(absl::StrCat("plugin:t5=1/", mig_node, " mig:all-1g.10gb=1/", mig_node, " ")))
      << picks();
  ASSERT_TRUE(client_->Delete(kube::resources::kNodes, "", mig_node).ok());
  EXPECT_TRUE(picks_become("")) << picks();
}

// Every change of the container nodes' facts is an operand render (and a round of lists of
// each operand kind). What is rendered depends on whether any container GPU node exists, not
// on how many: more nodes of an OS and kernel already known are no news, the last one going is.
TEST_F(NodeLabelControllerTest, MoreContainerNodesOfAKnownOsAndKernelAreNoNewFacts) {
  const json labels = {{kNfdGpu, "true"},
                       {"nvidia.com/gpu.workload.config", "container"},
                       {kNfdOsIdLabel, "ubuntu"},
                       {kNfdOsVersionLabel, "24.04"},
                       {kNfdKernelLabel, "6.8.0-45-generic"}};
  const std::string expected =
      std::string(kContainerLabels) + "nvidia.com/gpu.workload.config=container\n";
  std::atomic<int> facts_changes{0};
  kube::EventRecorder recorder(*client_, "gpuop.io/operator", "test");
  OperatorControllers controllers(
      *client_, recorder, log_,
      {.labels = {.on_container_facts_changed = [&] { ++facts_changes; }},
       .deploy_operands = false});
  ASSERT_TRUE(controllers.Start(std::chrono::seconds(20)));
  // The facts change before the node's labels are written, so they have once those are seen.
  std::vector<std::string> nodes = {CreateNode("gpu-a", labels)};
  ASSERT_TRUE(LabelsBecome(nodes[0], expected)) << GpuLabels(nodes[0]);
  const int after_first = facts_changes.load();
  EXPECT_GE(after_first, 1) << "the first container GPU node is news";
  // Named after the first, so that it stays the first container node by name.
  for (int i = 0; i < 4; ++i) nodes.push_back(CreateNode("gpu-b", labels));
  for (const std::string& node : nodes) {
    ASSERT_TRUE(LabelsBecome(node, expected)) << node << ": " << GpuLabels(node);
  }
  EXPECT_EQ(facts_changes.load(), after_first);
  EXPECT_TRUE(controllers.Labels().ContainerFacts().any_container_gpu_node);

  // The first by name last.
  for (auto node = nodes.rbegin(); node != nodes.rend(); ++node) {
    ASSERT_TRUE(client_->Delete(kube::resources::kNodes, "", *node).ok());
  }
  EXPECT_TRUE(WaitFor(
      [&] {
        return facts_changes.load() > after_first &&
               !controllers.Labels().ContainerFacts().any_container_gpu_node;
      },
      std::chrono::seconds(20)))
      << "no container GPU node left is news";
}

TEST_F(NodeLabelControllerTest, TurningSandboxWorkloadsOffMovesEveryGpuNodeToContainers) {
  const std::string node = CreateNode(
      "gpu-vm", {{kNfdGpu, "true"}, {"nvidia.com/gpu.workload.config", "vm-passthrough"}});
  kube::EventRecorder recorder(*client_, "gpuop.io/operator", "test");
  // The controller as the operator runs it: with the one ClusterPolicy cache it shares.
  OperatorControllers controller_controllers(*client_, recorder, log_,
                                             {.labels = {}, .deploy_operands = false});
  ASSERT_TRUE(controller_controllers.Start(std::chrono::seconds(20)));
  ASSERT_TRUE(LabelsBecome(node, kPassthroughLabels)) << GpuLabels(node);

  ASSERT_TRUE(client_
                  ->MergePatch(kClusterPolicies, "", policy_,
                               {{"spec", {{"sandboxWorkloads", {{"enabled", false}}}}}})
                  .ok());
  std::string expected = kContainerLabels;
  expected += "nvidia.com/gpu.workload.config=vm-passthrough\n";
  EXPECT_TRUE(LabelsBecome(node, expected)) << GpuLabels(node);
}

// A pod as a DaemonSet would place it on `node` (no kubelet runs it: it stays Pending, and a
// graceful delete leaves it Terminating until a forced one).
json HolderPod(const std::string& name, const std::string& app, const std::string& node) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"labels", {{"app", app}}}}},
          {"spec",
           {{"nodeName", node},
            {"automountServiceAccountToken", false},
            {"containers", json::array({{{"name", "main"}, {"image", "registry.invalid/x:1"}}})}}}};
}

TEST_F(NodeLabelControllerTest, AFlipHandsTheGpusOverOnlyOnceTheOtherDriversPodIsGone) {
  const std::string ns = gpuop::testing::UniqueName("gpuop-handover");
  ASSERT_TRUE(kube::CreateTestNamespace(*client_, ns));
  const std::string node = CreateNode(
      "gpu-flip", {{kNfdGpu, "true"}, {"nvidia.com/gpu.workload.config", "vm-passthrough"}});
  ASSERT_TRUE(client_
                  ->Create(kube::resources::kPods, ns,
                           HolderPod("vfio-manager-x", "nvidia-vfio-manager", node))
                  .ok());
  kube::EventRecorder recorder(*client_, "gpuop.io/operator", "test");
  OperatorControllers controllers(*client_, recorder, log_,
                                  {.labels = {.operator_namespace = ns}, .deploy_operands = false});
  ASSERT_TRUE(controllers.Start(std::chrono::seconds(20)));
  ASSERT_TRUE(LabelsBecome(node, kPassthroughLabels)) << GpuLabels(node);

  // To the container path: everything but the driver at once; the driver waits for the VFIO
  // manager's pod, which a graceful delete leaves Terminating.
  ASSERT_TRUE(client_
                  ->MergePatch(kube::resources::kNodes, "", node,
                               {{"metadata",
                                 {{"labels", {{"nvidia.com/gpu.workload.config", "container"}}}}}})
                  .ok());
  std::string held = kContainerLabels;
  held.replace(held.find("driver=true"), 11, "driver=waiting-for-gpu-handover");
  held += "nvidia.com/gpu.workload.config=container\n";
  ASSERT_TRUE(LabelsBecome(node, held)) << GpuLabels(node);
  ASSERT_TRUE(client_->Delete(kube::resources::kPods, ns, "vfio-manager-x").ok());
  ASSERT_TRUE(WaitFor([&] {
    auto pod = client_->Get(kube::resources::kPods, ns, "vfio-manager-x");
    return pod.ok() && (*pod)["metadata"].contains("deletionTimestamp");
  }));
  EXPECT_FALSE(WaitFor([&] { return GpuLabels(node) != held; }, std::chrono::seconds(2)))
      << GpuLabels(node);
  EXPECT_THAT(log_text_.str(), HasSubstr("GPU hand-over: waiting"));
  ASSERT_TRUE(
      client_->Delete(kube::resources::kPods, ns, "vfio-manager-x", {.grace_period_seconds = 0})
          .ok());
  std::string moved = kContainerLabels;
  moved += "nvidia.com/gpu.workload.config=container\n";
  EXPECT_TRUE(LabelsBecome(node, moved)) << GpuLabels(node);

  // And back: the VFIO manager waits for the driver container's pod.
  ASSERT_TRUE(client_
                  ->Create(kube::resources::kPods, ns,
                           HolderPod("driver-x", "nvidia-driver-daemonset", node))
                  .ok());
  ASSERT_TRUE(
      client_
          ->MergePatch(
              kube::resources::kNodes, "", node,
              {{"metadata", {{"labels", {{"nvidia.com/gpu.workload.config", "vm-passthrough"}}}}}})
          .ok());
  std::string waiting = kPassthroughLabels;
  waiting.replace(waiting.find("vfio-manager=true"), 17, "vfio-manager=waiting-for-gpu-handover");
  EXPECT_TRUE(LabelsBecome(node, waiting)) << GpuLabels(node);
  ASSERT_TRUE(
      client_->Delete(kube::resources::kPods, ns, "driver-x", {.grace_period_seconds = 0}).ok());
  EXPECT_TRUE(LabelsBecome(node, kPassthroughLabels)) << GpuLabels(node);
  controllers.Stop();
  (void)client_->Delete(kube::resources::kNamespaces, "", ns);
}

TEST_F(NodeLabelControllerTest, ASecondClusterPolicyIsIgnored) {
  kube::EventRecorder recorder(*client_, "gpuop.io/operator", "test");
  // The controller as the operator runs it: with the one ClusterPolicy cache it shares.
  OperatorControllers controller_controllers(*client_, recorder, log_,
                                             {.labels = {}, .deploy_operands = false});
  ASSERT_TRUE(controller_controllers.Start(std::chrono::seconds(20)));
  // creationTimestamp has one-second resolution: the second is made in a later second than the
  // first, so that it is the younger.
  const absl::Time first_created = CreatedAt(policy_);
  ASSERT_TRUE(WaitFor([&] { return absl::Now() >= first_created + absl::Seconds(1); }))
      << "the first policy was created at " << first_created;
  const std::string second = gpuop::testing::UniqueName("second-policy");
  ASSERT_TRUE(
      client_->Create(kClusterPolicies, "", gpuop::testing::SeedClusterPolicy(second)).ok());
  EXPECT_TRUE(WaitFor([&] { return PolicyState(second).rfind("ignored: ", 0) == 0; }))
      << PolicyState(second);
  EXPECT_TRUE(WaitFor([&] { return PolicyState(policy_).rfind("ready: ", 0) == 0; }))
      << PolicyState(policy_);
  (void)client_->Delete(kClusterPolicies, "", second);
}

}  // namespace
}  // namespace gpuop::op
