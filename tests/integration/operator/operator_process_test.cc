// gpuop-operator (`gpuop operator` in a binary of its own) as a process, as its Deployment runs
// it: it takes its Lease, labels a GPU node for its workload, and on SIGTERM stops at once and
// hands the Lease back.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

#include "absl/cleanup/cleanup.h"

#include "operator/active_policy.h"
#include "tests/fixtures/http_get.h"
#include "tests/fixtures/node_files.h"
#include "tests/fixtures/test_files.h"
#include "tests/integration/background_process.h"
#include "tests/integration/kube/informer_testing.h"
#include "tests/integration/operator/operator_testing.h"

namespace gpuop::op {
namespace {

using kube::json;
using kube::WaitFor;
using ::testing::HasSubstr;

// The seeds' policy with sandbox workloads in kata mode and vm-passthrough by default.
bool CreateVmPassthroughPolicy(kube::RestClient& client, const std::string& name) {
  const json spec = {
      {"sandboxWorkloads", {{"mode", "kata"}, {"defaultWorkload", "vm-passthrough"}}}};
  auto created = client.Create(kClusterPolicies, "", gpuop::testing::SeedClusterPolicy(name, spec));
  EXPECT_TRUE(created.ok()) << created.status();
  return created.ok();
}

TEST(OperatorProcess, LeadsLabelsAndReleasesItsLeaseOnSigterm) {
  gpuop::testing::InstallClusterPolicyCrd();
  auto client = kube::AdminClient();
  const std::string policy = gpuop::testing::UniqueName("cluster-policy");
  ASSERT_TRUE(CreateVmPassthroughPolicy(*client, policy));
  // Also when an assertion ends the test early: a policy left behind would rule the next tests.
  absl::Cleanup delete_policy = [&] { (void)client->Delete(kClusterPolicies, "", policy); };
  const std::string node = gpuop::testing::UniqueName("gpu-node");
  json object = kube::LabelledNode(node, "operator-process");
  object["metadata"]["labels"]["feature.node.kubernetes.io/pci-10de.present"] = "true";
  ASSERT_TRUE(client->Create(kube::resources::kNodes, "", object).ok());

  const std::string lease = gpuop::testing::UniqueName("gpuop-operator");
  const std::string log_path = gpuop::testing::ScratchDir("operator-process") + "/operator.log";
  const int metrics_port = gpuop::testing::FreeLoopbackPort();
  gpuop::testing::BackgroundProcess operator_process(
      {GPUOP_OPERATOR_BINARY, "--kubeconfig", gpuop::testing::AdminKubeconfig(), "--namespace",
       "default", "--lease-name", lease, "--identity", "operator-a", "--metrics-address",
       "127.0.0.1:" + std::to_string(metrics_port), "--operand-image", "gpuop:test", "--log-format",
       "text"},
      log_path);

  const auto label = [&](const char* key) -> std::string {
    auto got = client->Get(kube::resources::kNodes, "", node);
    if (!got.ok()) return "";
    return (*got)["metadata"]["labels"].value(key, "");
  };
  EXPECT_TRUE(WaitFor([&] { return label("nvidia.com/gpu.deploy.vfio-manager") == "true"; }))
      << gpuop::testing::ReadWhole(log_path);
  EXPECT_EQ(label("nvidia.com/gpu.deploy.kata-sandbox-device-plugin"), "true");
  EXPECT_EQ(label("nvidia.com/gpu.deploy.driver"), "");
  auto held = client->Get(kube::resources::kLeases, "default", lease);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ((*held)["spec"]["holderIdentity"], "operator-a");

  // What Prometheus scrapes: the leader's counters, and reconcile and apply-pass latencies as
  // histograms whose +Inf bucket equals their count.
  std::string metrics;
  const auto value_of = [&](const std::string& line_start) {
    const size_t at = metrics.find("\n" + line_start + " ");
    return at == std::string::npos ? -1.0 : std::stod(metrics.substr(at + line_start.size() + 2));
  };
  EXPECT_TRUE(WaitFor([&] {
    metrics = gpuop::testing::HttpGet(metrics_port, "/metrics");
    return value_of("gpuop_operator_operand_apply_pass_duration_seconds_count") >= 1 &&
           value_of("gpuop_operator_node_reconcile_duration_seconds_count") >= 1;
  })) << metrics;
  EXPECT_THAT(metrics, HasSubstr("\ngpuop_operator_leader 1\n"));
  EXPECT_THAT(metrics,
              HasSubstr("# TYPE gpuop_operator_node_reconcile_duration_seconds histogram"));
  EXPECT_THAT(metrics, HasSubstr("gpuop_operator_gpu_nodes{workload=\"vm-passthrough\"}"));
  EXPECT_GE(value_of("gpuop_operator_policy_status_writes_total"), 0);
  EXPECT_GE(value_of("gpuop_operator_operand_applies_total"), 1);
  const double reconciles = value_of("gpuop_operator_node_reconcile_duration_seconds_count");
  EXPECT_EQ(value_of("gpuop_operator_node_reconcile_duration_seconds_bucket{le=\"+Inf\"}"),
            reconciles);
  EXPECT_LE(value_of("gpuop_operator_node_reconcile_duration_seconds_bucket{le=\"0.001\"}"),
            reconciles);

  const auto signalled = std::chrono::steady_clock::now();
  operator_process.Signal(SIGTERM);
  EXPECT_EQ(operator_process.Wait(), 0) << gpuop::testing::ReadWhole(log_path);
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(5));
  auto released = client->Get(kube::resources::kLeases, "default", lease);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ((*released)["spec"]["holderIdentity"], "");

  (void)client->Delete(kube::resources::kNodes, "", node);
}

TEST(OperatorProcess, AStandbyTakesOverWhenTheLeaderIsKilledAndCatchesUp) {
  gpuop::testing::InstallClusterPolicyCrd();
  auto client = kube::AdminClient();
  const std::string policy = gpuop::testing::UniqueName("cluster-policy");
  ASSERT_TRUE(CreateVmPassthroughPolicy(*client, policy));
  // Also when an assertion ends the test early: a policy left behind would rule the next tests.
  absl::Cleanup delete_policy = [&] { (void)client->Delete(kClusterPolicies, "", policy); };
  const std::string run = gpuop::testing::UniqueName("takeover");
  std::vector<std::string> nodes;
  const auto add_nodes = [&](int count) {
    for (int i = 0; i < count; ++i) {
      nodes.push_back(run + "-" + std::to_string(nodes.size()));
      json object = kube::LabelledNode(nodes.back(), run);
      object["metadata"]["labels"]["feature.node.kubernetes.io/pci-10de.present"] = "true";
      ASSERT_TRUE(client->Create(kube::resources::kNodes, "", object).ok());
    }
  };
  add_nodes(40);
  const auto labelled = [&] {
    auto list = client->ListAll(
        kube::resources::kNodes, "",
        {.label_selector = "gpuop-test=" + run + ",nvidia.com/gpu.deploy.vfio-manager=true"});
    return list.ok() ? static_cast<int>(list->items.size()) : -1;
  };
  const auto holder = [&] {
    auto lease = client->Get(kube::resources::kLeases, "default", run);
    return lease.ok() ? (*lease)["spec"].value("holderIdentity", "") : std::string();
  };
  const std::string logs = gpuop::testing::ScratchDir("operator-process");
  // operator-a runs as the chart runs it (gpuop-operator), the others as `gpuop operator`: the
  // same controller from either binary, sharing one Lease.
  const auto candidate = [&](const std::string& identity) {
    std::vector<std::string> argv = {"--kubeconfig",      gpuop::testing::AdminKubeconfig(),
                                     "--namespace",       "default",
                                     "--lease-name",      run,
                                     "--lease-duration",  "4",
                                     "--identity",        identity,
                                     "--metrics-address", "",
                                     "--operand-image",   "gpuop:test",
                                     "--log-format",      "text"};
    if (identity == "operator-a") {
      argv.insert(argv.begin(), GPUOP_OPERATOR_BINARY);
    } else {
      argv.insert(argv.begin(), {GPUOP_BINARY, "operator"});
    }
    return std::make_unique<gpuop::testing::BackgroundProcess>(argv,
                                                               logs + "/" + identity + ".log");
  };

  auto leader = candidate("operator-a");
  ASSERT_TRUE(WaitFor([&] { return holder() == "operator-a"; }));
  auto standby = candidate("operator-b");
  ASSERT_TRUE(WaitFor([&] { return labelled() > 0; }));
  leader->Signal(SIGKILL);  // No release: the standby must wait the lease out.
  leader->Wait();
  add_nodes(5);  // Changes while nobody leads.

  EXPECT_TRUE(WaitFor([&] { return holder() == "operator-b"; }, std::chrono::seconds(20)));
  EXPECT_TRUE(WaitFor([&] { return labelled() == 45; }, std::chrono::seconds(20)))
      << labelled() << " of 45 labelled";
  // The operands the killed leader may have half applied are all there, owned by the policy,
  // and the status says they are not rolled out yet (no DaemonSet controller runs here). The
  // seed's policy enables the validator, the kata manager and the CC manager; it has no
  // vfioManager or kataSandboxDevicePlugin section, and an unset `enabled` is off.
  auto policy_object = client->Get(kClusterPolicies, "", policy);
  ASSERT_TRUE(policy_object.ok()) << policy_object.status();
  const std::string policy_uid = (*policy_object)["metadata"]["uid"];
  for (const char* name :
       {"nvidia-sandbox-validator", "nvidia-kata-manager", "nvidia-cc-manager"}) {
    EXPECT_TRUE(WaitFor(
        [&] {
          auto daemonset = client->Get(kube::resources::kDaemonSets, "default", name);
          if (!daemonset.ok()) return false;
          for (const json& owner :
               (*daemonset)["metadata"].value("ownerReferences", json::array())) {
            if (owner.value("uid", "") == policy_uid) return true;
          }
          return false;
        },
        std::chrono::seconds(20)))
        << name;
  }
  EXPECT_TRUE(WaitFor(
      [&] {
        auto got = client->Get(kClusterPolicies, "", policy);
        if (!got.ok()) return false;
        const json status = got->value("status", json::object());
        const json conditions = status.value("conditions", json::array());
        return status.value("state", "") == "notReady" && !conditions.empty() &&
               conditions[0].value("reason", "") == "OperandNotReady";
      },
      std::chrono::seconds(20)))
      << client->Get(kClusterPolicies, "", policy).value_or(json()).dump();
  standby->Signal(SIGTERM);
  EXPECT_EQ(standby->Wait(), 0);

  kube::DeleteLabelledNodes(*client, run);
}

}  // namespace
}  // namespace gpuop::op
