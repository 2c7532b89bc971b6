// The ClusterPolicy CRD of the chart on the real kube-apiserver: NVIDIA-style objects are
// accepted with their unknown fields kept, our enums and defaults hold, the status subresource
// and printer columns work, and the seeds' kubectl patch line works unchanged.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/cluster_policy.h"
#include "tests/integration/operator/operator_testing.h"
#include "tests/integration/testenv.h"

namespace gpuop::op {
namespace {

using gpuop::testing::Kubectl;
using gpuop::testing::KubectlJson;
using gpuop::testing::UniqueName;
using nlohmann::json;
using ::testing::HasSubstr;

class ClusterPolicyCrd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { gpuop::testing::InstallClusterPolicyCrd(); }
  void TearDown() override {
    if (!name_.empty()) Kubectl({"delete", "clusterpolicy", name_, "--ignore-not-found"});
  }

  // Creates the object as NVIDIA's chart renders it with the seeds' --set lines, under a fresh
  // name; returns what the server stored.
  json CreateSeedPolicy(json spec_changes = json::object()) {
    name_ = UniqueName("cluster-policy");
    json object = gpuop::testing::SeedClusterPolicy(name_, spec_changes);
    return KubectlJson({"create", "-o", "json", "-f", "-"}, object.dump());
  }
  std::string name_;
};

TEST_F(ClusterPolicyCrd, AnNvidiaStyleObjectIsKeptWholeAndGetsOurDefaults) {
  const json stored = CreateSeedPolicy();
  ASSERT_FALSE(stored.is_null());
  // Fields we do not read survive, at every level.
  EXPECT_EQ(stored["spec"]["cdi"]["enabled"], true);
  EXPECT_EQ(stored["spec"]["driver"]["useOpenKernelModules"], false);
  EXPECT_EQ(stored["spec"]["vgpuManager"]["driverManager"]["image"], "dm");
  EXPECT_EQ(stored["spec"]["operator"]["runtimeClass"], "nvidia");
  // CRD defaults, as NVIDIA's CRD has them.
  EXPECT_EQ(stored["spec"]["sandboxWorkloads"]["defaultWorkload"], "container");
  EXPECT_EQ(stored["spec"]["sandboxWorkloads"]["mode"], "kubevirt");
  EXPECT_EQ(stored["spec"]["kataManager"]["config"]["artifactsDir"],
            "/opt/nvidia-gpu-operator/artifacts/runtimeclasses");

  auto policy = api::ParseClusterPolicy(stored);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE(policy->sandbox_enabled);
  EXPECT_EQ(policy->cc_default_mode, "on");
  ASSERT_EQ(policy->kata_runtime_classes.size(), 1u);
  EXPECT_FALSE(policy->creation_timestamp.empty());
}

TEST_F(ClusterPolicyCrd, EnumsAreEnforcedByTheApiServerNamingTheField) {
  const std::string name = UniqueName("bad-policy");
  const json object = {{"apiVersion", "nvidia.com/v1"},
                       {"kind", "ClusterPolicy"},
                       {"metadata", {{"name", name}}},
                       {"spec",
                        {{"sandboxWorkloads", {{"defaultWorkload", "vm-pass"}}},
                         {"ccManager", {{"defaultMode", "maybe"}}}}}};
  common::ProcessResult created = Kubectl({"create", "-f", "-"}, object.dump());
  EXPECT_NE(created.exit_code, 0);
  EXPECT_THAT(created.err, HasSubstr("spec.sandboxWorkloads.defaultWorkload"));
  EXPECT_THAT(created.err, HasSubstr("spec.ccManager.defaultMode"));
}

TEST_F(ClusterPolicyCrd, TheSeedsPatchLineWorksAndStatusShowsInGet) {
  ASSERT_FALSE(CreateSeedPolicy().is_null());
  // As the Confidential Containers seed writes it.
  common::ProcessResult patched =
      Kubectl({"patch", "clusterpolicies.nvidia.com/" + name_, "--type=merge", "-p",
               R"({"spec": {"ccManager": {"defaultMode": "devtools"}}})"});
  ASSERT_EQ(patched.exit_code, 0) << patched.err;
  EXPECT_EQ(KubectlJson(
                {"get", "clusterpolicy", name_, "-o", "json"})["spec"]["ccManager"]["defaultMode"],
            "devtools");

  // Status only through its subresource: a plain patch of status is ignored.
  ASSERT_EQ(Kubectl({"patch", "clusterpolicy", name_, "--type=merge", "--subresource=status", "-p",
                     R"({"status": {"state": "ready", "namespace": "gpu-operator"}})"})
                .exit_code,
            0);
  common::ProcessResult listed = Kubectl({"get", "clusterpolicy", name_});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("STATUS"));
  EXPECT_THAT(listed.out, HasSubstr("AGE"));
  EXPECT_THAT(listed.out, HasSubstr("ready"));

  common::ProcessResult bad_state =
      Kubectl({"patch", "clusterpolicy", name_, "--type=merge", "--subresource=status", "-p",
               R"({"status": {"state": "sleeping"}})"});
  EXPECT_NE(bad_state.exit_code, 0);
  EXPECT_THAT(bad_state.err, HasSubstr("status.state"));
}

}  // namespace
}  // namespace gpuop::op
