// The informer's first list with fill_while_listing, when it fails half-way and is retried: a
// case the real API server cannot be made to show on demand, so the answers come from a
// scripted loopback server (informer_test.cc covers the rest against the real one).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "common/clock.h"
#include "kube/informer.h"
#include "kube/json_fields.h"
#include "kube/rest_client.h"
#include "tests/unit/kube/scripted_http_server.h"

namespace gpuop::kube {
namespace {

using ::gpuop::testing::ScriptedHttpServer;
using ::testing::ElementsAre;

std::string NodeList(const std::string& items, const std::string& continue_token) {
  return R"({"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"20","continue":")" +
         continue_token + R"("},"items":[)" + items + "]}";
}
std::string Node(const std::string& name, const std::string& version) {
  return R"({"metadata":{"name":")" + name + R"(","resourceVersion":")" + version + R"("}})";
}

TEST(InformerFirstList, ARetriedFirstListAddsUpdatesAndDropsBeforeItSyncs) {
  ScriptedHttpServer server;
  server.Script({
      // The first attempt: one page, then the second fails.
      {.status = 200, .body = NodeList(Node("n1", "5") + "," + Node("n2", "6"), "next")},
      {.status = 500, .body = "etcd is gone"},
      // The retry: n1 was deleted and n2 changed meanwhile; n3 is new.
      {.status = 200, .body = NodeList(Node("n2", "7") + "," + Node("n3", "8"), "")},
      // Then the watch, which ends at once (and is retried until the test stops).
      {.status = 200, .body = ""},
  });
  common::SteadyClock& clock = common::SteadyClock::Instance();
  auto client = RestClient::Create({.server = server.Url()}, clock);
  ASSERT_TRUE(client.ok()) << client.status();

  std::unique_ptr<Informer<std::string>> nodes;
  absl::Mutex mu;
  std::vector<std::string> events;
  const auto record = [&](const char* what) {
    return [&, what](const std::string& key) {
      const bool synced = nodes->HasSynced();
      const bool cached = nodes->Get(key).has_value();
      absl::MutexLock lock(&mu);
      events.push_back(std::string(what) + " " + key + (synced ? " synced" : "") +
                       (cached ? " cached" : ""));
    };
  };
  nodes = std::make_unique<Informer<std::string>>(
      **client, resources::kNodes, "",
      ListWatchOptions{.page_size = 2, .min_backoff = std::chrono::milliseconds(1)},
      [](JsonElement object) {
        return std::string(StringAt(object, {"metadata", "name"}));
      },
      InformerHandlers{.on_add = record("add"),
                       .on_update = record("update"),
                       .on_delete = record("delete"),
                       .fill_while_listing = true});
  nodes->Start();
  ASSERT_TRUE(nodes->WaitForSync(std::chrono::seconds(10)));
  nodes->Stop();

  EXPECT_THAT(nodes->Keys(), ::testing::UnorderedElementsAre("n2", "n3"));
  absl::MutexLock lock(&mu);
  EXPECT_THAT(events, ElementsAre("add n1 cached", "add n2 cached", "update n2 cached",
                                  "add n3 cached", "delete n1 synced"));
}

}  // namespace
}  // namespace gpuop::kube
