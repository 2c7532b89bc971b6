// The operator's controllers (labels + operands + status) against the real kube-apiserver, as
// `gpuop operator` runs them. There is no kube-controller-manager here, so DaemonSets never
// roll out by themselves: the test writes their status through the status subresource, as the
// DaemonSet controller would, and watches the ClusterPolicy's status follow.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"

#include "operator/operator_controllers.h"
#include "tests/integration/kube/informer_testing.h"
#include "tests/integration/operator/operator_testing.h"

namespace gpuop::op {
namespace {

using kube::json;
using kube::WaitFor;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRun[] = "operands";
// The operator's checked copy of the admin's device plugin configs (checked_configs.h).
constexpr char kCopy[] = "nvidia-device-plugin-checked-configs";
constexpr char kNfdGpu[] = "feature.node.kubernetes.io/pci-10de.present";
constexpr auto kPatience = std::chrono::seconds(20);

const char* const kSandboxDaemonSets[] = {"nvidia-sandbox-validator", "nvidia-vfio-manager",
                                          "nvidia-kata-sandbox-device-plugin-daemonset",
                                          "nvidia-kata-manager", "nvidia-cc-manager"};
// The container path's, on by NVIDIA's nil defaults. The driver's is rendered only once some
// container node's OS names its image tag.
const char* const kContainerDaemonSets[] = {"nvidia-container-toolkit-daemonset",
                                            "nvidia-operator-validator",
                                            "nvidia-device-plugin-daemonset",
                                            "nvidia-device-plugin-mps-control-daemon",
                                            "gpu-feature-discovery",
                                            "nvidia-dcgm",
                                            "nvidia-dcgm-exporter",
                                            "nvidia-mig-manager"};
constexpr char kNfdOsId[] = "feature.node.kubernetes.io/system-os_release.ID";
constexpr char kNfdOsVersion[] = "feature.node.kubernetes.io/system-os_release.VERSION_ID";

class OperandControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gpuop::testing::InstallClusterPolicyCrd();
    client_ = kube::AdminClient();
    recorder_ = std::make_unique<kube::EventRecorder>(*client_, "gpuop.io/operator", "test");
    ns_ = gpuop::testing::UniqueName("gpuop-operands");
    ASSERT_TRUE(kube::CreateTestNamespace(*client_, ns_));
    policy_ = gpuop::testing::UniqueName("cluster-policy");
    auto created = client_->Create(kClusterPolicies, "",
                                   gpuop::testing::SeedClusterPolicy(policy_, SeedSpec()));
    ASSERT_TRUE(created.ok()) << created.status();
    policy_uid_ = (*created)["metadata"]["uid"];
  }
  void TearDown() override {
    if (controllers_) controllers_->Stop();
    (void)client_->Delete(kClusterPolicies, "", policy_);
    kube::DeleteLabelledNodes(*client_, kRun);
    // No garbage collector runs here: take what the policy owned away by hand.
    for (const kube::Resource* resource :
         {&kube::resources::kClusterRoles, &kube::resources::kClusterRoleBindings,
          &kube::resources::kRuntimeClasses}) {
      auto listed =
          client_->List(*resource, "", {.label_selector = "app.kubernetes.io/managed-by=gpuop"});
      if (!listed.ok()) continue;
      for (const json& item : listed->items) {
        (void)client_->Delete(*resource, "", item["metadata"]["name"]);
      }
    }
    (void)client_->Delete(kube::resources::kNamespaces, "", ns_);
  }

  // The seed's `helm install ... --set sandboxWorkloads.enabled=true --set
  // kataManager.enabled=true --set ccManager.enabled=true`, in kata mode.
  static json SeedSpec() {
    return json::parse(R"({
      "sandboxWorkloads": {"enabled": true, "mode": "kata", "defaultWorkload": "container"},
      "vfioManager": {"enabled": true},
      "kataSandboxDevicePlugin": {"enabled": true},
      "kataManager": {"enabled": true, "config": {"runtimeClasses": [
        {"name": "kata-qemu-nvidia-gpu", "artifacts": {"url": "registry.local/artifacts:1"}},
        {"name": "kata-qemu-nvidia-gpu-snp", "nodeSelector": {"nvidia.com/cc.capable": "true"},
         "artifacts": {"url": "registry.local/artifacts:1-snp", "pullSecret": "registry-cred"}}]}},
      "ccManager": {"enabled": true, "defaultMode": "on"}
    })");
  }

  void StartControllers() {
    controllers_ = std::make_unique<OperatorControllers>(
        *client_, *recorder_, log_,
        OperatorOptions{.labels = {.operator_namespace = ns_},
                        .operands = {.render = {.operator_namespace = ns_,
                                                .gpuop_image = "registry.local/gpuop:test"}}});
    ASSERT_TRUE(controllers_->Start(kPatience));
  }

  void CreateNode(const std::string& prefix, const json& labels) {
    json node = kube::LabelledNode(gpuop::testing::UniqueName(prefix), kRun);
    node["metadata"]["labels"].update(labels);
    ASSERT_TRUE(client_->Create(kube::resources::kNodes, "", node).ok());
  }

  absl::StatusOr<json> Get(const kube::Resource& resource, const std::string& name) {
    return client_->Get(resource, resource.namespaced ? ns_ : "", name);
  }
  bool Exists(const kube::Resource& resource, const std::string& name) {
    return Get(resource, name).ok();
  }
  bool Gone(const kube::Resource& resource, const std::string& name) {
    return absl::IsNotFound(Get(resource, name).status());
  }

  // "state/reason: message" of the policy, from its Ready condition.
  std::string PolicyState() {
    auto object = client_->Get(kClusterPolicies, "", policy_);
    if (!object.ok()) return object.status().ToString();
    const json& status = (*object)["status"];
    if (!status.is_object()) return "no status";
    for (const json& condition : status.value("conditions", json::array())) {
      if (condition.value("type", "") == "Ready") {
        return status.value("state", "") + "/" + condition.value("reason", "") + ": " +
               condition.value("message", "");
      }
    }
    return status.value("state", "");
  }
  bool PolicyStateStartsWith(const std::string& prefix) {
    return WaitFor([&] { return PolicyState().starts_with(prefix); }, kPatience);
  }

  // What the DaemonSet controller writes once every pod runs the current spec.
  void MarkRolledOut(const std::string& name, int pods) {
    auto ds = Get(kube::resources::kDaemonSets, name);
    ASSERT_TRUE(ds.ok()) << name << ": " << ds.status() << "\npolicy: " << PolicyState();
    const json status = {{"observedGeneration", (*ds)["metadata"]["generation"]},
                         {"desiredNumberScheduled", pods},
                         {"currentNumberScheduled", pods},
                         {"updatedNumberScheduled", pods},
                         {"numberAvailable", pods},
                         {"numberReady", pods},
                         {"numberMisscheduled", 0}};
    auto written = client_->MergePatch(kube::resources::kDaemonSets, ns_, name,
                                       {{"status", status}}, "status");
    ASSERT_TRUE(written.ok()) << written.status();
  }

  json MainContainer(const std::string& daemonset) {
    auto ds = Get(kube::resources::kDaemonSets, daemonset);
    if (!ds.ok()) return nullptr;
    return (*ds)["spec"]["template"]["spec"]["containers"][0];
  }
  std::string EnvValue(const std::string& daemonset, const std::string& name) {
    const json container = MainContainer(daemonset);
    if (!container.is_object()) return "<no daemonset>";
    for (const json& variable : container.value("env", json::array())) {
      if (variable["name"] == name) return variable.value("value", "");
    }
    return "<unset>";
  }

  std::unique_ptr<kube::RestClient> client_;
  std::string ns_;
  std::string policy_;
  std::string policy_uid_;
  std::ostringstream log_text_;
  common::Logger log_{log_text_, common::LogFormat::kText};
  std::unique_ptr<kube::EventRecorder> recorder_;
  std::unique_ptr<OperatorControllers> controllers_;
};

TEST_F(OperandControllerTest, AppliesTheSandboxOperandsOwnedByThePolicyWithLeastPrivilege) {
  CreateNode("gpu-vm", {{kNfdGpu, "true"}, {"nvidia.com/gpu.workload.config", "vm-passthrough"}});
  StartControllers();

  for (const char* name : kSandboxDaemonSets) {
    EXPECT_TRUE(WaitFor([&] { return Exists(kube::resources::kDaemonSets, name); }, kPatience))
        << name << "\n"
        << log_text_.str();
  }
  auto vfio = Get(kube::resources::kDaemonSets, "nvidia-vfio-manager");
  ASSERT_TRUE(vfio.ok());
  EXPECT_EQ((*vfio)["metadata"]["ownerReferences"][0]["uid"], policy_uid_);
  EXPECT_EQ((*vfio)["spec"]["template"]["spec"]["nodeSelector"],
            json::parse(R"({"nvidia.com/gpu.deploy.vfio-manager": "true"})"));
  EXPECT_EQ(MainContainer("nvidia-vfio-manager")["image"], "registry.local/gpuop:test");
  bool applied_by_gpuop = false;
  for (const json& entry : (*vfio)["metadata"]["managedFields"]) {
    if (entry["manager"] == "gpuop" && entry["operation"] == "Apply") applied_by_gpuop = true;
  }
  EXPECT_TRUE(applied_by_gpuop) << (*vfio)["metadata"]["managedFields"].dump();

  // RuntimeClasses: the kata ones from the policy, scheduled where the kata manager runs, and
  // the container path's.
  auto snp = Get(kube::resources::kRuntimeClasses, "kata-qemu-nvidia-gpu-snp");
  ASSERT_TRUE(snp.ok()) << snp.status();
  EXPECT_EQ((*snp)["handler"], "kata-qemu-nvidia-gpu-snp");
  EXPECT_EQ((*snp)["scheduling"]["nodeSelector"],
            json::parse(R"({"nvidia.com/gpu.deploy.kata-manager": "true",
                            "nvidia.com/cc.capable": "true"})"));
  EXPECT_TRUE(Exists(kube::resources::kRuntimeClasses, "kata-qemu-nvidia-gpu"));
  EXPECT_TRUE(Exists(kube::resources::kRuntimeClasses, "nvidia"));

  // RBAC: each agent's own account, bound to rules that name only what it touches.
  auto role = Get(kube::resources::kRoles, "nvidia-kata-manager");
  ASSERT_TRUE(role.ok()) << role.status();
  bool secret_rule = false;
  for (const json& rule : (*role)["rules"]) {
    if (rule["resources"] == json::array({"secrets"})) {
      secret_rule = true;
      EXPECT_EQ(rule["resourceNames"], json::array({"registry-cred"}));
      EXPECT_EQ(rule["verbs"], json::array({"get"}));
    }
  }
  EXPECT_TRUE(secret_rule);
  auto binding = Get(kube::resources::kClusterRoleBindings, "nvidia-cc-manager");
  ASSERT_TRUE(binding.ok()) << binding.status();
  EXPECT_EQ((*binding)["subjects"][0]["namespace"], ns_);
  EXPECT_TRUE(Exists(kube::resources::kServiceAccounts, "nvidia-cc-manager"));
  EXPECT_TRUE(Exists(kube::resources::kRoleBindings, "nvidia-cc-manager"));
  auto config = Get(kube::resources::kConfigMaps, "nvidia-kata-manager-config");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT((*config)["data"]["config.yaml"].get<std::string>(),
              HasSubstr("registry.local/artifacts:1-snp"));
  // The seed's container-path and KubeVirt sections stay off in kata mode.
  EXPECT_TRUE(Gone(kube::resources::kDaemonSets, "nvidia-sandbox-device-plugin-daemonset"));
}

TEST_F(OperandControllerTest, StatusFollowsTheRolloutOfEveryDaemonSet) {
  CreateNode("gpu-vm", {{kNfdGpu, "true"}, {"nvidia.com/gpu.workload.config", "vm-passthrough"}});
  StartControllers();
  ASSERT_TRUE(PolicyStateStartsWith("notReady/OperandNotReady")) << PolicyState();
  // Ten named in order, then a count, once every DaemonSet is there (the policy may be read
  // between two applies).
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string state = PolicyState();
        return absl::StrContains(state, "nvidia-kata-manager: generation 1 not yet seen") &&
               absl::EndsWith(state, " and 3 more");
      },
      kPatience))
      << PolicyState();

  // No container node: the DaemonSet controller schedules their DaemonSets nowhere.
  for (const char* name : kContainerDaemonSets) MarkRolledOut(name, 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        return PolicyState().find("nvidia-vfio-manager: generation 1 not yet seen") !=
               std::string::npos;
      },
      kPatience))
      << PolicyState();
  for (const char* name : kSandboxDaemonSets) MarkRolledOut(name, 1);
  EXPECT_TRUE(PolicyStateStartsWith("ready/Reconciled")) << PolicyState();

  // The seed's `kubectl patch clusterpolicies.nvidia.com/cluster-policy --type=merge -p
  // '{"spec": {"ccManager": {"defaultMode": "off"}}}'`.
  ASSERT_TRUE(client_
                  ->MergePatch(kClusterPolicies, "", policy_,
                               {{"spec", {{"ccManager", {{"defaultMode", "off"}}}}}})
                  .ok());
  EXPECT_TRUE(
      WaitFor([&] { return EnvValue("nvidia-cc-manager", "DEFAULT_CC_MODE") == "off"; }, kPatience))
      << EnvValue("nvidia-cc-manager", "DEFAULT_CC_MODE");
  EXPECT_TRUE(PolicyStateStartsWith("notReady/OperandNotReady")) << PolicyState();
  EXPECT_THAT(PolicyState(), HasSubstr("nvidia-cc-manager: generation 2 not yet seen"));
  EXPECT_THAT(PolicyState(), ::testing::Not(HasSubstr("nvidia-vfio-manager")));
  MarkRolledOut("nvidia-cc-manager", 1);
  EXPECT_TRUE(PolicyStateStartsWith("ready/Reconciled")) << PolicyState();

  // A pod that stops being available turns the policy not ready again.
  ASSERT_TRUE(client_
                  ->MergePatch(kube::resources::kDaemonSets, ns_, "nvidia-vfio-manager",
                               {{"status", {{"numberAvailable", 0}, {"numberUnavailable", 1}}}},
                               "status")
                  .ok());
  EXPECT_TRUE(PolicyStateStartsWith("notReady/OperandNotReady")) << PolicyState();
  EXPECT_THAT(PolicyState(), HasSubstr("nvidia-vfio-manager: 0 of 1 pods available"));
}

TEST_F(OperandControllerTest, DisabledOperandsAndRemovedRuntimeClassesArePruned) {
  StartControllers();
  ASSERT_TRUE(WaitFor([&] { return Exists(kube::resources::kDaemonSets, "nvidia-cc-manager"); },
                      kPatience));
  ASSERT_TRUE(Exists(kube::resources::kRuntimeClasses, "kata-qemu-nvidia-gpu-snp"));

  json patch = {{"spec", {{"ccManager", {{"enabled", false}}}}}};
  patch["spec"]["kataManager"]["config"]["runtimeClasses"] =
      SeedSpec()["kataManager"]["config"]["runtimeClasses"];
  patch["spec"]["kataManager"]["config"]["runtimeClasses"].erase(1);
  ASSERT_TRUE(client_->MergePatch(kClusterPolicies, "", policy_, patch).ok());

  EXPECT_TRUE(
      WaitFor([&] { return Gone(kube::resources::kDaemonSets, "nvidia-cc-manager"); }, kPatience));
  // Service accounts are pruned last (after what refers to them).
  EXPECT_TRUE(WaitFor([&] { return Gone(kube::resources::kServiceAccounts, "nvidia-cc-manager"); },
                      kPatience));
  EXPECT_TRUE(Gone(kube::resources::kClusterRoles, "nvidia-cc-manager"));
  EXPECT_TRUE(Gone(kube::resources::kClusterRoleBindings, "nvidia-cc-manager"));
  EXPECT_TRUE(Gone(kube::resources::kRoles, "nvidia-cc-manager"));
  EXPECT_TRUE(
      WaitFor([&] { return Gone(kube::resources::kRuntimeClasses, "kata-qemu-nvidia-gpu-snp"); },
              kPatience));
  EXPECT_TRUE(Exists(kube::resources::kRuntimeClasses, "kata-qemu-nvidia-gpu"));
  EXPECT_TRUE(Exists(kube::resources::kDaemonSets, "nvidia-vfio-manager"));
  // The kata manager may no longer read the secret only the removed class named.
  auto role = Get(kube::resources::kRoles, "nvidia-kata-manager");
  ASSERT_TRUE(role.ok());
  EXPECT_THAT(role->dump(), ::testing::Not(HasSubstr("registry-cred")));

  // Sandbox workloads off: every sandbox operand goes; the container path's RuntimeClass stays.
  ASSERT_TRUE(client_
                  ->MergePatch(kClusterPolicies, "", policy_,
                               {{"spec", {{"sandboxWorkloads", {{"enabled", false}}}}}})
                  .ok());
  for (const char* name : kSandboxDaemonSets) {
    EXPECT_TRUE(WaitFor([&] { return Gone(kube::resources::kDaemonSets, name); }, kPatience))
        << name;
  }
  EXPECT_TRUE(Exists(kube::resources::kRuntimeClasses, "nvidia"));
}

TEST_F(OperandControllerTest, ARuntimeClassGpuopDidNotMakeIsNeitherTakenOverNorPruned) {
  // An admin's own, of the name a runtime class in the policy asks for.
  const std::string name = gpuop::testing::UniqueName("kata-admins");
  ASSERT_TRUE(client_
                  ->Create(kube::resources::kRuntimeClasses, "",
                           {{"apiVersion", "node.k8s.io/v1"},
                            {"kind", "RuntimeClass"},
                            {"metadata", {{"name", name}}},
                            {"handler", "kata-qemu"}})
                  .ok());
  StartControllers();
  ASSERT_TRUE(WaitFor([&] { return Exists(kube::resources::kDaemonSets, "nvidia-vfio-manager"); },
                      kPatience));
  json classes = SeedSpec()["kataManager"]["config"]["runtimeClasses"];
  classes.push_back({{"name", name}, {"artifacts", {{"url", "registry.local/artifacts:2"}}}});
  ASSERT_TRUE(
      client_
          ->MergePatch(kClusterPolicies, "", policy_,
                       {{"spec", {{"kataManager", {{"config", {{"runtimeClasses", classes}}}}}}}})
          .ok());
  EXPECT_TRUE(WaitFor(
      [&] { return PolicyState().find(name + " exists and is not gpuop's") != std::string::npos; },
      kPatience))
      << PolicyState();
  // Taken out of the policy again: no prune reaches it either.
  classes.erase(classes.size() - 1);
  ASSERT_TRUE(
      client_
          ->MergePatch(kClusterPolicies, "", policy_,
                       {{"spec", {{"kataManager", {{"config", {{"runtimeClasses", classes}}}}}}}})
          .ok());
  EXPECT_TRUE(
      WaitFor([&] { return PolicyState().find("is not gpuop's") == std::string::npos; }, kPatience))
      << PolicyState();
  absl::StatusOr<json> theirs = Get(kube::resources::kRuntimeClasses, name);
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  EXPECT_EQ(theirs->value("handler", ""), "kata-qemu");
  EXPECT_FALSE((*theirs)["metadata"].contains("labels")) << theirs->dump();
  EXPECT_FALSE((*theirs)["metadata"].contains("ownerReferences")) << theirs->dump();
  (void)client_->Delete(kube::resources::kRuntimeClasses, "", name);
}

TEST_F(OperandControllerTest, ADaemonSetDeletedByHandComesBack) {
  StartControllers();
  ASSERT_TRUE(WaitFor([&] { return Exists(kube::resources::kDaemonSets, "nvidia-vfio-manager"); },
                      kPatience));
  ASSERT_TRUE(client_->Delete(kube::resources::kDaemonSets, ns_, "nvidia-vfio-manager").ok());
  EXPECT_TRUE(WaitFor([&] { return Exists(kube::resources::kDaemonSets, "nvidia-vfio-manager"); },
                      kPatience))
      << log_text_.str();
}

TEST_F(OperandControllerTest, ABadSectionFailsItsStateOnlyAndSaysWhere) {
  StartControllers();
  ASSERT_TRUE(WaitFor([&] { return Exists(kube::resources::kDaemonSets, "nvidia-vfio-manager"); },
                      kPatience));
  // KubeVirt mode with NVIDIA's plugin named only in part.
  ASSERT_TRUE(client_
                  ->MergePatch(kClusterPolicies, "", policy_,
                               json::parse(R"({"spec": {"sandboxWorkloads": {"mode": "kubevirt"},
                     "sandboxDevicePlugin": {"enabled": true, "repository": "nvcr.io/nvidia",
                                             "image": "kubevirt-gpu-device-plugin"}}})"))
                  .ok());
  EXPECT_TRUE(PolicyStateStartsWith("notReady/ReconcileFailed")) << PolicyState();
  EXPECT_THAT(PolicyState(), HasSubstr("spec.sandboxDevicePlugin: version not set"));
  // The rest of kubevirt mode went ahead: kata's plugin and CC manager are gone, vfio stays.
  EXPECT_TRUE(WaitFor(
      [&] {
        return Gone(kube::resources::kDaemonSets, "nvidia-kata-sandbox-device-plugin-daemonset");
      },
      kPatience));
  EXPECT_TRUE(Exists(kube::resources::kDaemonSets, "nvidia-vfio-manager"));

  ASSERT_TRUE(client_
                  ->MergePatch(kClusterPolicies, "", policy_,
                               {{"spec", {{"sandboxDevicePlugin", {{"version", "v1.6.0"}}}}}})
                  .ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        const json container = MainContainer("nvidia-sandbox-device-plugin-daemonset");
        return container.is_object() &&
               container.value("image", "") == "nvcr.io/nvidia/kubevirt-gpu-device-plugin:v1.6.0";
      },
      kPatience));
  EXPECT_TRUE(PolicyStateStartsWith("notReady/OperandNotReady")) << PolicyState();
}

TEST_F(OperandControllerTest, ARestartWithNothingChangedWritesNothing) {
  CreateNode("gpu-vm", {{kNfdGpu, "true"}, {"nvidia.com/gpu.workload.config", "vm-passthrough"}});
  StartControllers();
  ASSERT_TRUE(PolicyStateStartsWith("notReady/OperandNotReady")) << PolicyState();
  for (const char* name : kSandboxDaemonSets) MarkRolledOut(name, 1);
  for (const char* name : kContainerDaemonSets) MarkRolledOut(name, 0);
  ASSERT_TRUE(PolicyStateStartsWith("ready/Reconciled")) << PolicyState();
  EXPECT_GT(controllers_->Operands()->Stats().applies.load(), 20);
  controllers_->Stop();
  controllers_.reset();
  const json status_before = Get(kClusterPolicies, policy_).value_or(json())["status"];

  StartControllers();
  OperandController& operands = *controllers_->Operands();
  ASSERT_TRUE(WaitFor([&] { return operands.Facts().has_value(); }, kPatience));
  ASSERT_TRUE(
      WaitFor([&] { return controllers_->Labels().Stats().reconciles.load() > 1; }, kPatience));
  // Room for a write that should not come: the whole 2 s, unless one comes and ends them.
  WaitFor(
      [&] {
        return operands.Stats().applies.load() > 0 || operands.Stats().deletes.load() > 0 ||
               controllers_->Labels().Stats().patches.load() > 0;
      },
      std::chrono::seconds(2));
  EXPECT_EQ(operands.Stats().applies.load(), 0) << log_text_.str();
  EXPECT_EQ(operands.Stats().deletes.load(), 0);
  EXPECT_EQ(controllers_->Labels().Stats().patches.load(), 0);
  // A status write is due only when the status is not what the first run left: GPU nodes of
  // tests running beside this one on the shared control plane count in it too.
  const json status_after = Get(kClusterPolicies, policy_).value_or(json())["status"];
  if (controllers_->Labels().Stats().status_writes.load() > 0) {
    EXPECT_NE(status_after, status_before) << "a status write that changed nothing";
  } else {
    EXPECT_EQ(status_after, status_before);
  }
  EXPECT_TRUE(operands.Facts()->not_ready.empty());
  EXPECT_EQ(PolicyState().substr(0, 16), "ready/Reconciled");
}

TEST_F(OperandControllerTest, PsaEnabledLabelsTheOperatorsNamespacePrivilegedAndOffLeavesIt) {
  // An admin's own level, which psa.enabled=false (the seed's) must leave as it is.
  ASSERT_TRUE(
      client_
          ->MergePatch(
              kube::resources::kNamespaces, "", ns_,
              {{"metadata", {{"labels", {{"pod-security.kubernetes.io/enforce", "baseline"}}}}}})
          .ok());
  const auto labels = [&] {
    auto object = client_->Get(kube::resources::kNamespaces, "", ns_);
    return object.ok() ? (*object)["metadata"].value("labels", json::object()) : json::object();
  };
  StartControllers();
  ASSERT_TRUE(WaitFor([&] { return controllers_->Operands()->Facts().has_value(); }, kPatience));
  EXPECT_EQ(labels().value("pod-security.kubernetes.io/enforce", ""), "baseline");
  EXPECT_FALSE(labels().contains("pod-security.kubernetes.io/audit"));

  ASSERT_TRUE(
      client_->MergePatch(kClusterPolicies, "", policy_, {{"spec", {{"psa", {{"enabled", true}}}}}})
          .ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        const json now = labels();
        return now.value("pod-security.kubernetes.io/enforce", "") == "privileged" &&
               now.value("pod-security.kubernetes.io/audit", "") == "privileged" &&
               now.value("pod-security.kubernetes.io/warn", "") == "privileged";
      },
      kPatience))
      << labels().dump() << "\n"
      << log_text_.str();
  // A merge patch of those three only: the API's own label stays.
  EXPECT_EQ(labels().value("kubernetes.io/metadata.name", ""), ns_);
}

// The container path on a container node: NVIDIA's operands, the driver's image tagged for the
// node's OS as NFD labels it, and a policy that is ready only once they have rolled out there.
// Without the OS labels the driver's image cannot be named, and the status says which labels.
TEST_F(OperandControllerTest, AContainerNodeGetsTheContainerPathAndItsDriverTaggedForItsOs) {
  const std::string node_name = gpuop::testing::UniqueName("gpu-ctr");
  json node = kube::LabelledNode(node_name, kRun);
  node["metadata"]["labels"].update({{kNfdGpu, "true"},
                                     {"nvidia.com/gpu.workload.config", "container"},
                                     {kNfdOsId, "ubuntu"},
                                     {kNfdOsVersion, "24.04"}});
  ASSERT_TRUE(client_->Create(kube::resources::kNodes, "", node).ok());
  StartControllers();
  ASSERT_TRUE(WaitFor(
      [&] {
        const json container = MainContainer("nvidia-driver-daemonset");
        return container.is_object() &&
               container.value("image", "") == "nvcr.io/nvidia/driver:595.91.07-ubuntu24.04";
      },
      kPatience))
      << PolicyState();
  auto driver = Get(kube::resources::kDaemonSets, "nvidia-driver-daemonset");
  ASSERT_TRUE(driver.ok()) << driver.status();
  EXPECT_EQ((*driver)["spec"]["updateStrategy"]["type"], "OnDelete");
  EXPECT_EQ((*driver)["spec"]["template"]["spec"]["nodeSelector"]["nvidia.com/gpu.deploy.driver"],
            "true");
  EXPECT_TRUE(Exists(kube::resources::kRuntimeClasses, "nvidia"));
  EXPECT_TRUE(Exists(kube::resources::kRuntimeClasses, "nvidia-cdi"));

  // Not ready while the container node's operands have not rolled out there.
  ASSERT_TRUE(PolicyStateStartsWith("notReady/OperandNotReady")) << PolicyState();
  for (const char* name : kSandboxDaemonSets) MarkRolledOut(name, 0);
  for (const char* name : kContainerDaemonSets) MarkRolledOut(name, 1);
  EXPECT_TRUE(PolicyStateStartsWith("notReady/OperandNotReady")) << PolicyState();
  EXPECT_THAT(PolicyState(), HasSubstr("nvidia-driver-daemonset"));
  MarkRolledOut("nvidia-driver-daemonset", 1);
  EXPECT_TRUE(PolicyStateStartsWith("ready/Reconciled")) << PolicyState();
  EXPECT_THAT(PolicyState(), HasSubstr("1 container"));

  // The node loses NFD's OS labels: the driver's tag has nothing to end in.
  ASSERT_TRUE(client_
                  ->MergePatch(
                      kube::resources::kNodes, "", node_name,
                      {{"metadata", {{"labels", {{kNfdOsId, nullptr}, {kNfdOsVersion, nullptr}}}}}})
                  .ok());
  EXPECT_TRUE(PolicyStateStartsWith("notReady/ReconcileFailed")) << PolicyState();
  EXPECT_THAT(PolicyState(), HasSubstr(kNfdOsId));
}

TEST_F(OperandControllerTest, PrecompiledDriversFollowTheKernelsAndTheToolkitTheNodesRuntime) {
  constexpr char kKernelLabel[] = "feature.node.kubernetes.io/kernel-version.full";
  const std::string first = gpuop::testing::UniqueName("a-gpu-ctr");
  const std::string second = gpuop::testing::UniqueName("b-gpu-ctr");
  for (const auto& [name, kernel] :
       {std::pair{first, "5.15.0-105-generic"}, std::pair{second, "6.8.0-1015-aws"}}) {
    json node = kube::LabelledNode(name, kRun);
    node["metadata"]["labels"].update({{kNfdGpu, "true"},
                                       {"nvidia.com/gpu.workload.config", "container"},
                                       {kNfdOsId, "ubuntu"},
                                       {kNfdOsVersion, "22.04"},
                                       {kKernelLabel, kernel}});
    ASSERT_TRUE(client_->Create(kube::resources::kNodes, "", node).ok());
  }
  // As the kubelet of a CRI-O node reports itself.
  ASSERT_TRUE(client_
                  ->MergePatch(
                      kube::resources::kNodes, "", first,
                      {{"status", {{"nodeInfo", {{"containerRuntimeVersion", "cri-o://1.30.4"}}}}}},
                      "status")
                  .ok());
  json spec = SeedSpec();
  spec["driver"] = {{"usePrecompiled", true},
                    {"repository", "nvcr.io/nvidia"},
                    {"image", "driver"},
                    {"version", "580"}};
  ASSERT_TRUE(
      client_->MergePatch(kClusterPolicies, "", policy_, {{"spec", {{"driver", spec["driver"]}}}})
          .ok());
  StartControllers();

  const std::string generic = "nvidia-driver-daemonset-5.15.0-105-generic-ubuntu22.04";
  const std::string aws = "nvidia-driver-daemonset-6.8.0-1015-aws-ubuntu22.04";
  ASSERT_TRUE(WaitFor([&] { return Exists(kube::resources::kDaemonSets, generic); }, kPatience))
      << PolicyState();
  ASSERT_TRUE(WaitFor([&] { return Exists(kube::resources::kDaemonSets, aws); }, kPatience))
      << PolicyState();
  EXPECT_TRUE(Gone(kube::resources::kDaemonSets, "nvidia-driver-daemonset"));
  EXPECT_EQ(MainContainer(aws).value("image", ""),
            "nvcr.io/nvidia/driver:580-6.8.0-1015-aws-ubuntu22.04");
  auto selected = Get(kube::resources::kDaemonSets, aws);
  ASSERT_TRUE(selected.ok());
  EXPECT_EQ((*selected)["spec"]["template"]["spec"]["nodeSelector"][kKernelLabel],
            "6.8.0-1015-aws");
  // The toolkit configures the runtime the first container node's kubelet reports.
  EXPECT_TRUE(
      WaitFor([&] { return EnvValue("nvidia-container-toolkit-daemonset", "RUNTIME") == "crio"; },
              kPatience))
      << EnvValue("nvidia-container-toolkit-daemonset", "RUNTIME") << "\n"
      << PolicyState();
  EXPECT_EQ(EnvValue("nvidia-container-toolkit-daemonset", "CRIO_CONFIG"),
            "/runtime/config-dir/config.toml");
  EXPECT_THAT(log_text_.str(), HasSubstr("container runtime detected"));

  // The second node is upgraded to the first one's kernel: the other kernel's driver goes.
  ASSERT_TRUE(client_
                  ->MergePatch(kube::resources::kNodes, "", second,
                               {{"metadata", {{"labels", {{kKernelLabel, "5.15.0-105-generic"}}}}}})
                  .ok());
  EXPECT_TRUE(WaitFor([&] { return Gone(kube::resources::kDaemonSets, aws); }, kPatience))
      << PolicyState();
  EXPECT_TRUE(Exists(kube::resources::kDaemonSets, generic));

  // A container node without NFD's kernel label: no precompiled driver can be chosen for it,
  // and the status says so while the driver that runs stays.
  ASSERT_TRUE(client_
                  ->MergePatch(kube::resources::kNodes, "", second,
                               {{"metadata", {{"labels", {{kKernelLabel, nullptr}}}}}})
                  .ok());
  EXPECT_TRUE(
      WaitFor([&] { return PolicyState().find(kKernelLabel) != std::string::npos; }, kPatience))
      << PolicyState();
  EXPECT_THAT(PolicyState(), HasSubstr("1 container GPU node(s) have no"));
  EXPECT_TRUE(Exists(kube::resources::kDaemonSets, generic));
}

TEST_F(OperandControllerTest, TheExportersServiceMonitorWaitsForItsCrdAndTheStatusSaysSo) {
  ASSERT_TRUE(
      client_
          ->MergePatch(kClusterPolicies, "", policy_,
                       {{"spec",
                         {{"dcgmExporter",
                           {{"serviceMonitor", {{"enabled", true}, {"interval", "30s"}}}}}}}})
          .ok());
  StartControllers();
  const kube::Resource services{"", "v1", "services", true};
  const kube::Resource monitors{"monitoring.coreos.com", "v1", "servicemonitors", true};
  ASSERT_TRUE(WaitFor([&] { return Exists(services, "nvidia-dcgm-exporter"); }, kPatience))
      << PolicyState();
  EXPECT_TRUE(Exists(services, "nvidia-dcgm"));
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const char* name : kSandboxDaemonSets) {
          if (!Exists(kube::resources::kDaemonSets, name)) return false;
        }
        return true;
      },
      kPatience));
  for (const char* name : kSandboxDaemonSets) MarkRolledOut(name, 0);
  for (const char* name : kContainerDaemonSets) MarkRolledOut(name, 0);
  // Ready (nothing is held back by it), and the status names what was left out and why.
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string state = PolicyState();
        return state.starts_with("ready/") &&
               state.find("ServiceMonitor nvidia-dcgm-exporter not applied") != std::string::npos;
      },
      kPatience))
      << PolicyState();
  EXPECT_THAT(PolicyState(), HasSubstr("servicemonitors.monitoring.coreos.com"));

  // Prometheus Operator comes: the next pass applies it.
  const std::string crd = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {plural: servicemonitors, singular: servicemonitor, kind: ServiceMonitor}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
)";
  common::ProcessResult applied = gpuop::testing::Kubectl({"apply", "-f", "-"}, crd);
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  absl::Cleanup remove_crd = [] {
    (void)gpuop::testing::Kubectl(
        {"delete", "crd", "servicemonitors.monitoring.coreos.com", "--ignore-not-found"});
  };
  ASSERT_EQ(gpuop::testing::Kubectl({"wait", "--for=condition=Established", "--timeout=60s",
                                     "crd/servicemonitors.monitoring.coreos.com"})
                .exit_code,
            0);
  ASSERT_TRUE(
      client_
          ->MergePatch(kClusterPolicies, "", policy_,
                       {{"spec", {{"dcgmExporter", {{"serviceMonitor", {{"interval", "15s"}}}}}}}})
          .ok());
  ASSERT_TRUE(WaitFor([&] { return Exists(monitors, "nvidia-dcgm-exporter"); }, kPatience))
      << PolicyState();
  auto monitor = Get(monitors, "nvidia-dcgm-exporter");
  ASSERT_TRUE(monitor.ok());
  EXPECT_EQ((*monitor)["spec"]["endpoints"][0]["interval"], "15s");
  EXPECT_TRUE(
      WaitFor([&] { return PolicyState().find("not applied") == std::string::npos; }, kPatience))
      << PolicyState();
  (void)client_->Delete(monitors, ns_, "nvidia-dcgm-exporter");
}

// The admin's device plugin configs reach the plugin only through the operator's checked copy: a
// bad edit turns the policy notReady with the line and field, warns once on the ClusterPolicy,
// and leaves the last good version in the copy; the fix brings both back.
TEST_F(OperandControllerTest, ABadConfigEditIsAStatusAndAnEventAndTheCopyKeepsTheLastGood) {
  const std::string good =
      "version: v1\nsharing:\n  timeSlicing:\n    resources:\n"
      "      - name: nvidia.com/gpu\n        replicas: 4\n";
  const std::string bad =
      "version: v1\nsharing:\n  timeSlicing:\n    resources:\n"
      "      - name: nvidia.com/gpu\n        replicas: 1\n";
  const std::string fixed =
      "version: v1\nsharing:\n  timeSlicing:\n    resources:\n"
      "      - name: nvidia.com/gpu\n        replicas: 8\n";
  const json config_map = {{"apiVersion", "v1"},
                           {"kind", "ConfigMap"},
                           {"metadata", {{"name", "plugin-configs"}, {"namespace", ns_}}},
                           {"data", {{"ts", good}}}};
  ASSERT_TRUE(client_->Create(kube::resources::kConfigMaps, ns_, config_map).ok());
  ASSERT_TRUE(
      client_
          ->MergePatch(
              kClusterPolicies, "", policy_,
              {{"spec",
                {{"devicePlugin", {{"config", {{"name", "plugin-configs"}, {"default", "ts"}}}}}}}})
          .ok());
  StartControllers();
  const auto copy_holds = [&](const std::string& text) {
    return WaitFor(
        [&] {
          auto copy = Get(kube::resources::kConfigMaps, kCopy);
          return copy.ok() && (*copy)["data"].value("ts", "") == text;
        },
        kPatience);
  };
  ASSERT_TRUE(copy_holds(good)) << PolicyState();
  ASSERT_TRUE(WaitFor(
      [&] { return Exists(kube::resources::kDaemonSets, "nvidia-device-plugin-daemonset"); },
      kPatience));
  auto plugin = Get(kube::resources::kDaemonSets, "nvidia-device-plugin-daemonset");
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  bool mounts_copy = false;
  for (const json& volume : (*plugin)["spec"]["template"]["spec"]["volumes"]) {
    mounts_copy =
        mounts_copy || volume.value("configMap", json::object()).value("name", "") == kCopy;
  }
  EXPECT_TRUE(mounts_copy) << (*plugin)["spec"]["template"]["spec"]["volumes"].dump();
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const char* name : kSandboxDaemonSets) {
          if (!Exists(kube::resources::kDaemonSets, name)) return false;
        }
        for (const char* name : kContainerDaemonSets) {
          if (!Exists(kube::resources::kDaemonSets, name)) return false;
        }
        return true;
      },
      kPatience));
  for (const char* name : kSandboxDaemonSets) MarkRolledOut(name, 0);
  for (const char* name : kContainerDaemonSets) MarkRolledOut(name, 0);
  ASSERT_TRUE(PolicyStateStartsWith("ready/")) << PolicyState();

  ASSERT_TRUE(client_
                  ->MergePatch(kube::resources::kConfigMaps, ns_, "plugin-configs",
                               {{"data", {{"ts", bad}}}})
                  .ok());
  ASSERT_TRUE(PolicyStateStartsWith("notReady/InvalidDevicePluginConfig")) << PolicyState();
  EXPECT_THAT(PolicyState(), HasSubstr("config \"ts\": line 6: sharing.timeSlicing.resources[0]"
                                       ".replicas"));
  EXPECT_THAT(PolicyState(), HasSubstr("the last good version stays in use"));
  EXPECT_TRUE(copy_holds(good));
  EXPECT_TRUE(WaitFor(
      [&] {
        auto events = client_->ListAll(kube::resources::kEvents, "default");
        if (!events.ok()) return false;
        for (const json& event : events->items) {
          if (event["regarding"].value("name", "") == policy_ &&
              event.value("reason", "") == "InvalidDevicePluginConfig") {
            return event.value("type", "") == "Warning" &&
                   event.value("note", "").find("replicas") != std::string::npos;
          }
        }
        return false;
      },
      kPatience));

  ASSERT_TRUE(client_
                  ->MergePatch(kube::resources::kConfigMaps, ns_, "plugin-configs",
                               {{"data", {{"ts", fixed}}}})
                  .ok());
  EXPECT_TRUE(copy_holds(fixed));
  EXPECT_TRUE(PolicyStateStartsWith("ready/")) << PolicyState();

  // A container node whose label picks a config the ConfigMap lacks: named in the status, and
  // the copy serves the plugin's built-in config under that name (NVIDIA's config-manager would
  // stop the pod on a missing one). Relabelled to a config that exists, all is well again.
  const std::string node_name = gpuop::testing::UniqueName("gpu-ts");
  json node = kube::LabelledNode(node_name, kRun);
  node["metadata"]["labels"].update({{kNfdGpu, "true"},
                                     {"nvidia.com/gpu.workload.config", "container"},
                                     {kNfdOsId, "ubuntu"},
                                     {kNfdOsVersion, "24.04"},
                                     {"nvidia.com/device-plugin.config", "t5"}});
  ASSERT_TRUE(client_->Create(kube::resources::kNodes, "", node).ok());
  ASSERT_TRUE(PolicyStateStartsWith("notReady/InvalidDevicePluginConfig")) << PolicyState();
  EXPECT_THAT(PolicyState(), HasSubstr("node " + node_name +
                                       " picks nvidia.com/device-plugin.config=t5, which "
                                       "is not a config of ConfigMap " +
                                       ns_ + "/plugin-configs"));
  EXPECT_TRUE(WaitFor(
      [&] {
        auto copy = Get(kube::resources::kConfigMaps, kCopy);
        return copy.ok() && (*copy)["data"].value("t5", "") == "version: v1\n";
      },
      kPatience));
  ASSERT_TRUE(
      client_
          ->MergePatch(kube::resources::kNodes, "", node_name,
                       {{"metadata", {{"labels", {{"nvidia.com/device-plugin.config", "ts"}}}}}})
          .ok());
  EXPECT_TRUE(WaitFor([&] { return PolicyState().find("t5") == std::string::npos; }, kPatience))
      << PolicyState();
  EXPECT_THAT(PolicyState(), Not(HasSubstr("InvalidDevicePluginConfig")));
}

// A MIG-capable container node starts with MIG off and gets the MIG manager; the deploy labels
// the manager pauses for a repartition stay paused through an operator restart.
TEST_F(OperandControllerTest, AMigNodeStartsWithMigOffAndTheManagersPausesOutliveARestart) {
  const std::string node_name = gpuop::testing::UniqueName("gpu-mig");
  json node = kube::LabelledNode(node_name, kRun);
  node["metadata"]["labels"].update(
      {{kNfdGpu, "true"},
       {"nvidia.com/gpu.workload.config", "container"},
       {"nvidia.com/mig.capable", "true"},
       {kNfdOsId, "ubuntu"},
       {kNfdOsVersion, "24.04"},
       {"nvidia.com/gpu.deploy.device-plugin", "paused-for-mig-change"}});
  ASSERT_TRUE(client_->Create(kube::resources::kNodes, "", node).ok());
  const auto label = [&](const std::string& key) {
    auto object = client_->Get(kube::resources::kNodes, "", node_name);
    return object.ok() ? (*object)["metadata"]["labels"].value(key, "<unset>")
                       : object.status().ToString();
  };
  StartControllers();
  ASSERT_TRUE(
      WaitFor([&] { return label("nvidia.com/gpu.deploy.mig-manager") == "true"; }, kPatience))
      << label("nvidia.com/gpu.deploy.mig-manager");
  EXPECT_EQ(label("nvidia.com/mig.config"), "all-disabled");
  EXPECT_EQ(label("nvidia.com/gpu.deploy.device-plugin"), "paused-for-mig-change");
  EXPECT_EQ(label("nvidia.com/gpu.deploy.container-toolkit"), "true");
  EXPECT_TRUE(WaitFor([&] { return Exists(kube::resources::kDaemonSets, "nvidia-mig-manager"); },
                      kPatience));

  // The admin picks a layout, and the operator restarts mid-repartition.
  ASSERT_TRUE(client_
                  ->MergePatch(kube::resources::kNodes, "", node_name,
                               {{"metadata",
                                 {{"labels",
                                   {{"nvidia.com/mig.config", "all-1g.10gb"},
                                    {"nvidia.com/mig.config.state", "pending"}}}}}})
                  .ok());
  controllers_->Stop();
  controllers_.reset();
  StartControllers();
  // A pass over the node has run once the restarted operator has written the policy's status.
  for (const char* name : kSandboxDaemonSets) MarkRolledOut(name, 0);
  for (const char* name : kContainerDaemonSets) MarkRolledOut(name, 1);
  ASSERT_TRUE(PolicyStateStartsWith("notReady/OperandNotReady")) << PolicyState();
  MarkRolledOut("nvidia-driver-daemonset", 1);
  EXPECT_TRUE(PolicyStateStartsWith("ready/Reconciled")) << PolicyState();
  EXPECT_EQ(label("nvidia.com/gpu.deploy.device-plugin"), "paused-for-mig-change");
  EXPECT_EQ(label("nvidia.com/mig.config"), "all-1g.10gb") << "the admin's layout is kept";
}

}  // namespace
}  // namespace gpuop::op
