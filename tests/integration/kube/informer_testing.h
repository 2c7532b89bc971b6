#pragma once

// Helpers shared by the kube integration tests: an admin client for the fixture's control
// plane, labelled test Nodes, a Node projection, and a recorder of informer events.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "kube/informer.h"
#include "kube/label_set.h"
#include "kube/rest_client.h"
#include "tests/fixtures/wait_for.h"
#include "tests/integration/testenv.h"

namespace gpuop::kube {

inline std::unique_ptr<RestClient> AdminClient() {
  auto config = LoadKubeconfig(gpuop::testing::AdminKubeconfig());
  EXPECT_TRUE(config.ok()) << config.status();
  auto client = RestClient::Create(*config);
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

// What the tests cache of a Node: the operator's view, not the whole object.
struct NodeView {
  std::string kind;
  std::string resource_version;
  std::map<std::string, std::string> labels;
};

inline NodeView ProjectNode(JsonElement object) {
  NodeView view;
  view.kind = std::string(StringAt(object, {"kind"}));
  view.resource_version = ResourceVersionOf(object);
  JsonElement labels;
  if (ElementAt(object, {"metadata", "labels"}, labels)) {
    LabelSet::FromElement(labels).ForEach(
        [&](std::string_view key, std::string_view value) { view.labels.emplace(key, value); });
  }
  return view;
}

inline json LabelledNode(const std::string& name, const std::string& run) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}, {"labels", {{"gpuop-test", run}}}}}};
}

// Creates the Namespace `name` ready for pods: with its "default" ServiceAccount, which the
// ServiceAccount admission wants and which no controller-manager creates here. Records a test
// failure and returns false when either cannot be created.
inline bool CreateTestNamespace(RestClient& client, const std::string& name) {
  const auto created =
      client.Create(resources::kNamespaces, "",
                    {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
  EXPECT_TRUE(created.ok()) << created.status();
  if (!created.ok()) return false;
  const auto account = client.Create(
      resources::kServiceAccounts, name,
      {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "default"}}}});
  EXPECT_TRUE(account.ok()) << account.status();
  return account.ok();
}

// The tests' shared poll (tests/fixtures/wait_for.h), by its old name here.
using gpuop::testing::WaitFor;

// Records "add <key>", "update <key>", "delete <key>" in the order the handlers ran.
class EventLog {
 public:
  InformerHandlers Handlers() {
    return {.on_add = [this](const std::string& key) { Record("add " + key); },
            .on_update = [this](const std::string& key) { Record("update " + key); },
            .on_delete = [this](const std::string& key) { Record("delete " + key); }};
  }
  std::vector<std::string> Events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }

 private:
  void Record(std::string event) {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }
  mutable absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

// Waits until the informer's keys and resourceVersions equal a fresh list's, then asserts so.
inline void ExpectCacheMatchesList(RestClient& client, const Informer<NodeView>& informer,
                                   const std::string& run) {
  std::map<std::string, std::string> listed;
  const auto snapshot = [&] {
    std::map<std::string, std::string> cached;
    informer.ForEach(
        [&](const std::string& key, const NodeView& view) { cached[key] = view.resource_version; });
    return cached;
  };
  const auto matches = [&] {
    auto list = client.ListAll(resources::kNodes, "", {.label_selector = "gpuop-test=" + run});
    if (!list.ok()) return false;
    listed.clear();
    for (const json& item : list->items) {
      listed[item["metadata"]["name"]] = item["metadata"]["resourceVersion"];
    }
    return snapshot() == listed;
  };
  EXPECT_TRUE(WaitFor(matches)) << "cache has " << snapshot().size() << " objects, list has "
                                << listed.size();
}

inline void DeleteLabelledNodes(RestClient& client, const std::string& run) {
  auto list = client.ListAll(resources::kNodes, "", {.label_selector = "gpuop-test=" + run});
  if (!list.ok()) return;
  for (const json& item : list->items) {
    (void)client.Delete(resources::kNodes, "", item["metadata"]["name"]);
  }
}

}  // namespace gpuop::kube
