// Informers against the real kube-apiserver: ordering of events, metadata-only projections,
// and a cache that equals a fresh list. Each test watches only the Nodes it labels, so tests can
// share the control plane.

#include "kube/informer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>

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

// fill_while_listing: each object of the first list is in the cache, and its on_add has run,
// before the list is whole; without it, every on_add comes after. Later changes are the same.
TEST(Informer, TheFirstListFillsTheCacheAsItsPagesComeWhenAsked) {
  auto client = AdminClient();
  const std::string run = gpuop::testing::UniqueName("filling");
  for (int i = 0; i < 9; ++i) {
    ASSERT_TRUE(
        client->Create(resources::kNodes, "", LabelledNode(run + "-" + std::to_string(i), run))
            .ok());
  }
  for (const bool filling : {true, false}) {
    SCOPED_TRACE(filling ? "filling while listing" : "swapped in whole");
    std::unique_ptr<Informer<NodeView>> nodes;
    absl::Mutex mu;
    int adds = 0, adds_before_sync = 0, adds_seen_in_cache = 0;
    InformerHandlers handlers{.on_add =
                                  [&](const std::string& key) {
                                    const bool synced = nodes->HasSynced();
                                    const bool cached = nodes->Get(key).has_value();
                                    absl::MutexLock lock(&mu);
                                    ++adds;
                                    adds_before_sync += synced ? 0 : 1;
                                    adds_seen_in_cache += cached ? 1 : 0;
                                  },
                              .fill_while_listing = filling};
    nodes = std::make_unique<Informer<NodeView>>(
        *client, resources::kNodes, "",
        ListWatchOptions{.label_selector = "gpuop-test=" + run, .page_size = 2}, ProjectNode,
        handlers);
    nodes->Start();
    ASSERT_TRUE(nodes->WaitForSync(std::chrono::seconds(30)));
    EXPECT_EQ(nodes->Size(), 9u);  // Five pages.
    // A swapped-in list's handlers run just after the sync; a filling one's all ran before it.
    ASSERT_TRUE(WaitFor([&] {
      absl::MutexLock lock(&mu);
      return adds >= 9;
    }));
    {
      absl::MutexLock lock(&mu);
      EXPECT_EQ(adds, 9);
      EXPECT_EQ(adds_seen_in_cache, 9);
      EXPECT_EQ(adds_before_sync, filling ? 9 : 0);
    }
    // A Node created now is told of as before.
    const std::string late = run + "-late-" + (filling ? "a" : "b");
    ASSERT_TRUE(client->Create(resources::kNodes, "", LabelledNode(late, run)).ok());
    ASSERT_TRUE(WaitFor([&] {
      absl::MutexLock lock(&mu);
      return adds == 10;
    }));
    ExpectCacheMatchesList(*client, *nodes, run);
    nodes->Stop();
    ASSERT_TRUE(client->Delete(resources::kNodes, "", late).ok());
  }
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
