// Informers across kube-apiserver restarts and etcd compaction. These restart the shared
// apiserver, so ctest runs them alone (RUN_SERIAL).

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "common/subprocess.h"
#include "kube/informer.h"
#include "tests/integration/kube/informer_testing.h"

namespace gpuop::kube {
namespace {

std::string EnvValue(const std::string& key) {
  std::ifstream env(gpuop::testing::TestEnvState() + "/env");
  for (std::string line; std::getline(env, line);) {
    if (line.starts_with(key + "=")) return line.substr(key.size() + 1);
  }
  return "";
}

void RestartApiserver() {
  auto result = common::RunProcess({std::string(GPUOP_SOURCE_DIR) + "/tools/testenv/control-plane",
                                    "restart-apiserver", gpuop::testing::TestEnvState()},
                                   {.timeout = std::chrono::seconds(120)});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->exit_code, 0) << result->err;
}

// Compacts etcd's history up to its current revision: every older resourceVersion is gone.
void CompactEtcd() {
  const std::string endpoint = EnvValue("ETCD_URL");
  auto status = common::RunProcess(
      {"etcdctl", "--endpoints", endpoint, "endpoint", "status", "--write-out", "json"},
      {.timeout = std::chrono::seconds(30)});
  ASSERT_TRUE(status.ok() && status->exit_code == 0) << status.status();
  const json parsed = json::parse(status->out);
  const int64_t revision = parsed[0]["Status"]["header"]["revision"];
  auto compact =
      common::RunProcess({"etcdctl", "--endpoints", endpoint, "compact", std::to_string(revision)},
                         {.timeout = std::chrono::seconds(30)});
  ASSERT_TRUE(compact.ok() && compact->exit_code == 0)
      << compact.status() << (compact.ok() ? compact->err : "");
}

TEST(InformerAcrossRestarts, ResumesAfterTheApiserverRestartsWithoutLosingAnEvent) {
  setenv("ETCDCTL_API", "3", 1);
  auto client = AdminClient();
  const std::string run = gpuop::testing::UniqueName("restart");
  Informer<NodeView> nodes(*client, resources::kNodes, "",
                           {.label_selector = "gpuop-test=" + run,
                            .metadata_only = true,
                            .min_backoff = std::chrono::milliseconds(200),
                            .max_backoff = std::chrono::seconds(1)},
                           ProjectNode);
  nodes.Start();
  ASSERT_TRUE(nodes.WaitForSync(std::chrono::seconds(30)));
  ASSERT_TRUE(client->Create(resources::kNodes, "", LabelledNode(run + "-before", run)).ok());
  ASSERT_TRUE(WaitFor([&] { return nodes.Size() == 1; }));

  RestartApiserver();
  // Changes right after the restart, while the informer is reconnecting.
  ASSERT_TRUE(client->Create(resources::kNodes, "", LabelledNode(run + "-after", run)).ok());
  ASSERT_TRUE(client
                  ->MergePatch(resources::kNodes, "", run + "-before",
                               {{"metadata", {{"labels", {{"changed", "yes"}}}}}})
                  .ok());
  ExpectCacheMatchesList(*client, nodes, run);
  EXPECT_EQ(nodes.Get(run + "-before")->labels["changed"], "yes");
  EXPECT_GE(nodes.Source().Watches(), 2);  // It did reconnect.
  nodes.Stop();
  DeleteLabelledNodes(*client, run);
}

TEST(InformerAcrossRestarts, RelistsWhenItsResourceVersionWasCompactedAway) {
  setenv("ETCDCTL_API", "3", 1);
  auto client = AdminClient();
  const std::string run = gpuop::testing::UniqueName("compact");
  // A long backoff leaves a window after the restart in which etcd moves on and compacts
  // before the informer comes back with its old resourceVersion.
  Informer<NodeView> nodes(*client, resources::kNodes, "",
                           {.label_selector = "gpuop-test=" + run,
                            .min_backoff = std::chrono::seconds(6),
                            .max_backoff = std::chrono::seconds(6)},
                           ProjectNode);
  nodes.Start();
  ASSERT_TRUE(nodes.WaitForSync(std::chrono::seconds(30)));
  ASSERT_TRUE(client->Create(resources::kNodes, "", LabelledNode(run + "-0", run)).ok());
  ASSERT_TRUE(WaitFor([&] { return nodes.Size() == 1; }));
  EXPECT_EQ(nodes.Source().Lists(), 1);

  RestartApiserver();
  ASSERT_TRUE(client->Create(resources::kNodes, "", LabelledNode(run + "-1", run)).ok());
  ASSERT_TRUE(client->Delete(resources::kNodes, "", run + "-0").ok());
  CompactEtcd();

  ExpectCacheMatchesList(*client, nodes, run);
  EXPECT_GE(nodes.Source().Lists(), 2) << "last error: " << nodes.Source().LastError();
  nodes.Stop();
  DeleteLabelledNodes(*client, run);
}

}  // namespace
}  // namespace gpuop::kube
