// The chart's admission policy for node agents (templates/agent-admission-policy.yaml), rendered
// by the pinned Helm and proved on the real kube-apiserver v1.35: each agent's ServiceAccount
// gets a token bound to a pod on node A, the way the kubelet mints them, and may change the keys
// its role owns on A and nothing else. Every agent is granted write rights on every Node here,
// so that what refuses is the policy, not RBAC (a compromised agent's role, or a careless one).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/agent_node_rights.h"
#include "common/subprocess.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/wait_for.h"
#include "tests/integration/pinned_helm.h"
#include "tests/integration/testenv.h"

namespace gpuop::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kPolicy[] = "gpuop-node-agents";

// The chart's policy and binding as Helm renders them for a release in `name_space`.
std::string RenderPolicy(const std::string& name_space, bool require_node_binding) {
  const std::string helm = PinnedHelm();
  EXPECT_FALSE(helm.empty()) << "tools/helm/build.sh or tools/nfd/package-chart.sh failed";
  absl::StatusOr<common::ProcessResult> rendered =
      common::RunProcess({helm, "template", "gpuop", ChartDir(), "-n", name_space, "--show-only",
                          "templates/agent-admission-policy.yaml", "--set",
                          std::string("agentAdmissionPolicy.requireNodeBinding=") +
                              (require_node_binding ? "true" : "false")});
  EXPECT_TRUE(rendered.ok() && rendered->exit_code == 0)
      << (rendered.ok() ? rendered->err : rendered.status().ToString());
  return rendered.ok() ? rendered->out : "";
}

void Apply(const std::string& yaml) {
  common::ProcessResult applied = Kubectl({"apply", "-f", "-"}, yaml);
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
}

class AgentAdmissionPolicyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    name_space_ = new std::string(UniqueName("agents"));
    node_a_ = new std::string(UniqueName("node-a"));
    node_b_ = new std::string(UniqueName("node-b"));
    kubeconfig_of_ = new std::map<std::string, std::string>();
    scratch_ = new std::string(ScratchDir("agent-policy"));

    ASSERT_EQ(Kubectl({"create", "namespace", *name_space_}).exit_code, 0);
    for (const std::string* node : {node_a_, node_b_}) {
      Apply(json{{"apiVersion", "v1"},
                 {"kind", "Node"},
                 {"metadata",
                  {{"name", *node},
                   {"labels", {{"nvidia.com/cc.mode", "on"}, {"nvidia.com/cc.mode.state", "on"}}},
                   {"annotations", {{"admin.example.com/note", "kept"}}}}}}
                .dump());
    }
    // Write rights on every Node for every agent: the policy must hold on its own.
    Apply(json{{"apiVersion", "rbac.authorization.k8s.io/v1"},
               {"kind", "ClusterRole"},
               {"metadata", {{"name", *name_space_ + "-node-writer"}}},
               {"rules",
                {{{"apiGroups", {""}},
                  {"resources", {"nodes", "nodes/status"}},
                  {"verbs", {"get", "patch", "update", "delete"}}}}}}
              .dump());
    json subjects = json::array();
    for (const api::AgentNodeRights& rights : api::AgentNodeRightsTable()) {
      subjects.push_back({{"kind", "ServiceAccount"},
                          {"name", rights.service_account},
                          {"namespace", *name_space_}});
    }
    subjects.push_back(
        {{"kind", "ServiceAccount"}, {"name", "gpuop-operator"}, {"namespace", *name_space_}});
    Apply(json{{"apiVersion", "rbac.authorization.k8s.io/v1"},
               {"kind", "ClusterRoleBinding"},
               {"metadata", {{"name", *name_space_ + "-node-writer"}}},
               {"roleRef",
                {{"apiGroup", "rbac.authorization.k8s.io"},
                 {"kind", "ClusterRole"},
                 {"name", *name_space_ + "-node-writer"}}},
               {"subjects", subjects}}
              .dump());
    for (json& subject : subjects) {
      const std::string account = subject["name"];
      ASSERT_EQ(Kubectl({"-n", *name_space_, "create", "serviceaccount", account}).exit_code, 0);
      // A pod on node A (never started: there is no kubelet) to bind the token to.
      Apply(json{{"apiVersion", "v1"},
                 {"kind", "Pod"},
                 {"metadata", {{"name", account}, {"namespace", *name_space_}}},
                 {"spec",
                  {{"nodeName", *node_a_},
                   {"serviceAccountName", account},
                   {"containers", {{{"name", "agent"}, {"image", "registry.invalid/agent:1"}}}}}}}
                .dump());
      (*kubeconfig_of_)[account] =
          KubeconfigFor(account, {"-n", *name_space_, "create", "token", account,
                                  "--bound-object-kind", "Pod", "--bound-object-name", account});
    }
    Apply(RenderPolicy(*name_space_, /*require_node_binding=*/true));
    // The server compiles the policy and starts using it a moment after the apply.
    ASSERT_TRUE(WaitFor([] { return RefusedByPolicy("nvidia-vfio-manager", *node_b_); },
                        std::chrono::seconds(60)))
        << "the policy never took effect";
    Kubectl({"label", "node", *node_b_, "probe-"});
  }

  static void TearDownTestSuite() {
    Kubectl({"delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", kPolicy,
             "--ignore-not-found"});
    Kubectl({"delete", "clusterrolebinding,clusterrole", *name_space_ + "-node-writer"});
    Kubectl({"delete", "node", *node_a_, *node_b_});
    Kubectl({"delete", "namespace", *name_space_, "--wait=false"});
  }

  // A kubeconfig holding only the token that `token_args` mints (no admin client certificate).
  static std::string KubeconfigFor(const std::string& name, const std::vector<std::string>& args) {
    common::ProcessResult token = Kubectl(args);
    EXPECT_EQ(token.exit_code, 0) << token.err;
    const std::string server =
        Kubectl({"config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"}).out;
    const std::string path = *scratch_ + "/" + name + ".kubeconfig";
    WriteFile(
        path,
        json{
            {"apiVersion", "v1"},
            {"kind", "Config"},
            {"clusters",
             {{{"name", "c"},
               {"cluster",
                {{"server", server}, {"certificate-authority", TestEnvState() + "/pki/ca.crt"}}}}}},
            {"users", {{{"name", "u"}, {"user", {{"token", token.out}}}}}},
            {"contexts", {{{"name", "c"}, {"context", {{"cluster", "c"}, {"user", "u"}}}}}},
            {"current-context", "c"}}
            .dump());
    return path;
  }

  // Whether `account` is refused by the policy when it sets a label on `node` (a new value each
  // time: before the policy holds, the write goes through).
  static bool RefusedByPolicy(const std::string& account, const std::string& node,
                              const std::string& key = "probe") {
    static int attempt = 0;
    return Agent(account,
                 {"label", "node", node, key + "=" + std::to_string(++attempt), "--overwrite"})
               .err.find(kPolicy) != std::string::npos;
  }

  static common::ProcessResult Agent(const std::string& account,
                                     const std::vector<std::string>& args) {
    return Kubectl(args, "", kubeconfig_of_->at(account));
  }

  static std::string Label(const std::string& node, const std::string& key) {
    json labels = KubectlJson({"get", "node", node, "-o", "jsonpath={.metadata.labels}"});
    return labels.is_object() ? labels.value(key, "") : "";
  }

  static std::string* name_space_;
  static std::string* node_a_;
  static std::string* node_b_;
  static std::map<std::string, std::string>* kubeconfig_of_;  // account -> its kubeconfig
  static std::string* scratch_;
};

std::string* AgentAdmissionPolicyTest::name_space_;
std::string* AgentAdmissionPolicyTest::node_a_;
std::string* AgentAdmissionPolicyTest::node_b_;
std::map<std::string, std::string>* AgentAdmissionPolicyTest::kubeconfig_of_;
std::string* AgentAdmissionPolicyTest::scratch_;

TEST_F(AgentAdmissionPolicyTest, TheServerTypeChecksThePolicyWithoutAWarning) {
  json policy = KubectlJson({"get", "validatingadmissionpolicy", kPolicy, "-o", "json"});
  ASSERT_TRUE(policy.is_object());
  EXPECT_FALSE(policy["status"].contains("typeChecking") &&
               !policy["status"]["typeChecking"].value("expressionWarnings", json::array()).empty())
      << policy["status"].dump(2);
}

TEST_F(AgentAdmissionPolicyTest, EachAgentChangesTheKeysItOwnsOnItsOwnNode) {
  common::ProcessResult set =
      Agent("nvidia-cc-manager", {"label", "node", *node_a_, "nvidia.com/cc.mode.state=off",
                                  "nvidia.com/cc.ready.state=false", "--overwrite"});
  EXPECT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(Label(*node_a_, "nvidia.com/cc.mode.state"), "off");
  common::ProcessResult pause = Agent(
      "nvidia-cc-manager",
      {"label", "node", *node_a_, "nvidia.com/gpu.deploy.vfio-manager=paused-for-cc-mode-change"});
  EXPECT_EQ(pause.exit_code, 0) << pause.err;
  common::ProcessResult removed = Agent(
      "nvidia-cc-manager", {"label", "node", *node_a_, "nvidia.com/gpu.deploy.vfio-manager-"});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  common::ProcessResult record =
      Agent("nvidia-cc-manager", {"annotate", "node", *node_a_, "gpuop.io/cc-paused-labels={}"});
  EXPECT_EQ(record.exit_code, 0) << record.err;
  common::ProcessResult digests = Agent(
      "nvidia-kata-manager",
      {"annotate", "node", *node_a_, R"(gpuop.io/kata-artifacts={"kata-qemu-nvidia-gpu":"x"})"});
  EXPECT_EQ(digests.exit_code, 0) << digests.err;
}

TEST_F(AgentAdmissionPolicyTest, NoAgentChangesAnotherNode) {
  for (const api::AgentNodeRights& rights : api::AgentNodeRightsTable()) {
    common::ProcessResult refused =
        Agent(rights.service_account,
              {"label", "node", *node_b_, "nvidia.com/cc.mode.state=off", "--overwrite"});
    EXPECT_NE(refused.exit_code, 0) << rights.service_account;
    EXPECT_THAT(refused.err, HasSubstr("may change only the Node its pod runs on (" + *node_a_ +
                                       "), not " + *node_b_))
        << rights.service_account;
    std::cout << rights.service_account << " on " << *node_b_ << ": " << refused.err;
  }
  EXPECT_EQ(Label(*node_b_, "nvidia.com/cc.mode.state"), "on");
}

TEST_F(AgentAdmissionPolicyTest, KeysAnAgentDoesNotOwnAreRefusedByName) {
  // The admin's request: an agent that could set it could switch a node's CC mode off.
  common::ProcessResult mode = Agent(
      "nvidia-cc-manager", {"label", "node", *node_a_, "nvidia.com/cc.mode=off", "--overwrite"});
  EXPECT_THAT(mode.err, HasSubstr("may not change the label(s) nvidia.com/cc.mode (it owns"));
  common::ProcessResult workload = Agent(
      "nvidia-cc-manager", {"label", "node", *node_a_, "nvidia.com/gpu.workload.config=container"});
  EXPECT_THAT(workload.err,
              HasSubstr("may not change the label(s) nvidia.com/gpu.workload.config"));
  common::ProcessResult removal =
      Agent("nvidia-kata-manager", {"label", "node", *node_a_, "nvidia.com/cc.mode-"});
  EXPECT_THAT(removal.err,
              HasSubstr("may not change the label(s) nvidia.com/cc.mode (it owns no label)"));
  common::ProcessResult annotation =
      Agent("nvidia-sandbox-validator",
            {"annotate", "node", *node_a_, "admin.example.com/note=changed", "--overwrite"});
  EXPECT_THAT(annotation.err, HasSubstr("may not change the annotation(s) admin.example.com/note "
                                        "(it owns no annotation)"));
  std::cout << mode.err << workload.err << removal.err << annotation.err;
  EXPECT_EQ(Label(*node_a_, "nvidia.com/cc.mode"), "on");
}

TEST_F(AgentAdmissionPolicyTest, SpecTaintsStatusAndDeletionAreRefused) {
  common::ProcessResult taint =
      Agent("nvidia-cc-manager", {"taint", "node", *node_a_, "x=y:NoSchedule"});
  EXPECT_THAT(taint.err, HasSubstr("may not change a Node's spec"));
  common::ProcessResult cordon = Agent("nvidia-cc-manager", {"cordon", *node_a_});
  EXPECT_THAT(cordon.err, HasSubstr("may not change a Node's spec"));
  common::ProcessResult status =
      Agent("nvidia-cc-manager", {"patch", "node", *node_a_, "--subresource=status", "-p",
                                  R"({"status":{"capacity":{"nvidia.com/pgpu":"8"}}})"});
  EXPECT_THAT(status.err, HasSubstr("may not change a Node's status"));
  common::ProcessResult finalizer = Agent(
      "nvidia-kata-manager",
      {"patch", "node", *node_a_, "-p", R"({"metadata":{"finalizers":["example.com/hold"]}})"});
  EXPECT_THAT(finalizer.err, HasSubstr("finalizers or owner references"));
  common::ProcessResult deleted = Agent("nvidia-vfio-manager", {"delete", "node", *node_a_});
  EXPECT_THAT(deleted.err, HasSubstr("may not delete a Node"));
  std::cout << taint.err << cordon.err << status.err << finalizer.err << deleted.err;
  EXPECT_EQ(Kubectl({"get", "node", *node_a_}).exit_code, 0);
}

TEST_F(AgentAdmissionPolicyTest, ATokenBoundToNoPodChangesNoNode) {
  const std::string loose =
      KubeconfigFor("loose", {"-n", *name_space_, "create", "token", "nvidia-cc-manager"});
  common::ProcessResult refused =
      Kubectl({"label", "node", *node_a_, "nvidia.com/cc.mode.state=on", "--overwrite"}, "", loose);
  EXPECT_THAT(refused.err, HasSubstr("holds a token bound to no node"));
  std::cout << refused.err;
}

TEST_F(AgentAdmissionPolicyTest, EveryoneElseIsLeftAlone) {
  // The operator's account, in the same namespace and with the same rights, is not matched.
  common::ProcessResult operator_write =
      Agent("gpuop-operator",
            {"label", "node", *node_b_, "nvidia.com/gpu.workload.config=container", "--overwrite"});
  EXPECT_EQ(operator_write.exit_code, 0) << operator_write.err;
  common::ProcessResult admin = Kubectl({"taint", "node", *node_b_, "admin=yes:NoSchedule"});
  EXPECT_EQ(admin.exit_code, 0) << admin.err;
  EXPECT_EQ(Kubectl({"taint", "node", *node_b_, "admin-"}).exit_code, 0);
}

// The fallback for servers before 1.32: the owned keys on any Node, still nothing else.
TEST_F(AgentAdmissionPolicyTest, WithoutNodeBindingOnlyTheKeyRulesHold) {
  Apply(RenderPolicy(*name_space_, /*require_node_binding=*/false));
  EXPECT_TRUE(WaitFor(
      [] {
        return Agent("nvidia-cc-manager",
                     {"label", "node", *node_b_, "nvidia.com/cc.ready.state=true", "--overwrite"})
                   .exit_code == 0;
      },
      std::chrono::seconds(60)));
  common::ProcessResult mode = Agent(
      "nvidia-cc-manager", {"label", "node", *node_b_, "nvidia.com/cc.mode=off", "--overwrite"});
  EXPECT_THAT(mode.err, HasSubstr("may not change the label(s) nvidia.com/cc.mode"));
  Apply(RenderPolicy(*name_space_, /*require_node_binding=*/true));
  EXPECT_TRUE(WaitFor(
      [] { return RefusedByPolicy("nvidia-cc-manager", *node_b_, "nvidia.com/cc.ready.state"); },
      std::chrono::seconds(60)));
}

}  // namespace
}  // namespace gpuop::testing
