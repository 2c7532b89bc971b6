// Informers against the real kube-apiserver: ordering of events, metadata-only projections,
// and a cache that equals a fresh list. Each test watches only the Nodes it labels, so tests can
// share the control plane.

#include "kube/informer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "tests/integration/kube/informer_testing.h"

namespace gpuop::kube {
namespace {

using ::testing::ElementsAre;

TEST(Informer, SeesAddUpdateDeleteInOrderAndKeepsOnlyTheProjection) {
  auto client = AdminClient();
  const std::string run = gpuop::testing::UniqueName("order");
  EventLog log;
  Informer<NodeView> nodes(*client, resources::kNodes, "",
                           {.label_selector = "gpuop-test=" + run, .metadata_only = true},
                           ProjectNode, log.Handlers());
  nodes.Start();
  ASSERT_TRUE(nodes.WaitForSync(std::chrono::seconds(30)));
  EXPECT_EQ(nodes.Size(), 0u);

  const std::string name = run + "-a";
  ASSERT_TRUE(client->Create(resources::kNodes, "", LabelledNode(name, run)).ok());
  ASSERT_TRUE(client
                  ->MergePatch(resources::kNodes, "", name,
                               {{"metadata", {{"labels", {{"nvidia.com/gpu.present", "true"}}}}}})
                  .ok());
  ASSERT_TRUE(WaitFor([&] {
    auto view = nodes.Get(name);
    return view.has_value() && view->labels.contains("nvidia.com/gpu.present");
  }));
  EXPECT_EQ(nodes.Get(name)->kind, "PartialObjectMetadata");  // Metadata only on the wire.
  ASSERT_TRUE(client->Delete(resources::kNodes, "", name).ok());
  ASSERT_TRUE(WaitFor([&] { return !nodes.Get(name).has_value(); }));
  nodes.Stop();

  EXPECT_THAT(log.Events(), ElementsAre("add " + name, "update " + name, "delete " + name));
}

TEST(Informer, CacheEqualsAFreshListAfterManyChanges) {
  auto client = AdminClient();
  const std::string run = gpuop::testing::UniqueName("many");
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(
        client->Create(resources::kNodes, "", LabelledNode(run + "-" + std::to_string(i), run))
            .ok());
  }
  Informer<NodeView> nodes(*client, resources::kNodes, "",
                           {.label_selector = "gpuop-test=" + run, .page_size = 7}, ProjectNode);
  nodes.Start();
  ASSERT_TRUE(nodes.WaitForSync(std::chrono::seconds(30)));
  EXPECT_EQ(nodes.Size(), 30u);  // Assembled from five pages.
  for (int i = 0; i < 30; i += 3) {
    ASSERT_TRUE(client->Delete(resources::kNodes, "", run + "-" + std::to_string(i)).ok());
  }
  for (int i = 30; i < 40; ++i) {
    ASSERT_TRUE(
        client->Create(resources::kNodes, "", LabelledNode(run + "-" + std::to_string(i), run))
            .ok());
  }
  ExpectCacheMatchesList(*client, nodes, run);
  nodes.Stop();
  DeleteLabelledNodes(*client, run);
}

TEST(Informer, StopsPromptlyWhileTheWatchIsIdle) {
  auto client = AdminClient();
  Informer<NodeView> nodes(*client, resources::kNodes, "",
                           {.label_selector = "gpuop-test=nothing-here"}, ProjectNode);
  nodes.Start();
  ASSERT_TRUE(nodes.WaitForSync(std::chrono::seconds(30)));
  const auto start = std::chrono::steady_clock::now();
  nodes.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

}  // namespace
}  // namespace gpuop::kube
