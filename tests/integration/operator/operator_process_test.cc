// `gpuop operator` as a process, as its Deployment runs it: it takes its Lease, labels a GPU
// node for its workload, and on SIGTERM stops at once and hands the Lease back.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sstream>

#include "operator/active_policy.h"
#include "tests/integration/background_process.h"
#include "tests/integration/kube/informer_testing.h"
#include "tests/integration/operator/operator_testing.h"

namespace gpuop::op {
namespace {

using kube::json;
using kube::WaitFor;

std::string ReadLog(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(OperatorProcess, LeadsLabelsAndReleasesItsLeaseOnSigterm) {
  gpuop::testing::InstallClusterPolicyCrd();
  auto client = kube::AdminClient();
  const std::string policy = gpuop::testing::UniqueName("cluster-policy");
  ASSERT_TRUE(
      client
          ->Create(kClusterPolicies, "",
                   gpuop::testing::SeedClusterPolicy(
                       policy, {{"sandboxWorkloads",
                                 {{"mode", "kata"}, {"defaultWorkload", "vm-passthrough"}}}}))
          .ok());
  const std::string node = gpuop::testing::UniqueName("gpu-node");
  json object = kube::LabelledNode(node, "operator-process");
  object["metadata"]["labels"]["feature.node.kubernetes.io/pci-10de.present"] = "true";
  ASSERT_TRUE(client->Create(kube::resources::kNodes, "", object).ok());

  const std::string lease = gpuop::testing::UniqueName("gpuop-operator");
  const std::string log_path = ::testing::TempDir() + "/" + lease + ".log";
  gpuop::testing::BackgroundProcess operator_process(
      {GPUOP_BINARY, "operator", "--kubeconfig", gpuop::testing::AdminKubeconfig(), "--namespace",
       "default", "--lease-name", lease, "--identity", "operator-a", "--metrics-address", "",
       "--log-format", "text"},
      log_path);

  const auto label = [&](const char* key) -> std::string {
    auto got = client->Get(kube::resources::kNodes, "", node);
    if (!got.ok()) return "";
    return (*got)["metadata"]["labels"].value(key, "");
  };
  EXPECT_TRUE(WaitFor([&] { return label("nvidia.com/gpu.deploy.vfio-manager") == "true"; }))
      << ReadLog(log_path);
  EXPECT_EQ(label("nvidia.com/gpu.deploy.kata-sandbox-device-plugin"), "true");
  EXPECT_EQ(label("nvidia.com/gpu.deploy.driver"), "");
  auto held = client->Get(kube::resources::kLeases, "default", lease);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ((*held)["spec"]["holderIdentity"], "operator-a");

  const auto signalled = std::chrono::steady_clock::now();
  operator_process.Signal(SIGTERM);
  EXPECT_EQ(operator_process.Wait(), 0) << ReadLog(log_path);
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(5));
  auto released = client->Get(kube::resources::kLeases, "default", lease);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ((*released)["spec"]["holderIdentity"], "");

  (void)client->Delete(kClusterPolicies, "", policy);
  (void)client->Delete(kube::resources::kNodes, "", node);
}

}  // namespace
}  // namespace gpuop::op
