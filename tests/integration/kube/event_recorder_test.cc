// Events on the real kube-apiserver: repeats aggregate into one Event's series.

#include "kube/event_recorder.h"

#include <gtest/gtest.h>

#include "tests/integration/kube/informer_testing.h"

namespace gpuop::kube {
namespace {

// The Events about the named object in `ns`, through the given API.
std::vector<json> EventsAbout(RestClient& client, const Resource& events, const std::string& ns,
                              const std::string& name) {
  auto list = client.ListAll(events, ns);
  EXPECT_TRUE(list.ok()) << list.status();
  std::vector<json> found;
  for (const json& event : list->items) {
    const json& about = event.contains("regarding") ? event["regarding"] : event["involvedObject"];
    if (about.value("name", "") == name) found.push_back(event);
  }
  return found;
}

TEST(EventRecorder, RepeatsOfOneEventBumpItsCountInsteadOfAddingObjects) {
  auto client = AdminClient();
  const std::string name = gpuop::testing::UniqueName("event-node");
  auto node = client->Create(resources::kNodes, "", LabelledNode(name, "events"));
  ASSERT_TRUE(node.ok()) << node.status();
  const ObjectReference ref = ReferenceTo(*node);
  EXPECT_EQ(ref.kind, "Node");
  EXPECT_FALSE(ref.uid.empty());

  EventRecorder recorder(*client, "gpuop.io/operator", "operator-0");
  const std::string note =
      "nvidia.com/gpu.workload.config=\"vm-pass\" is not one of container, "
      "vm-passthrough, vm-vgpu";
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(recorder.Warning(ref, "InvalidWorkloadConfig", "Route", note).ok());
  }
  ASSERT_TRUE(recorder.Normal(ref, "WorkloadRouted", "Route", "vm-passthrough").ok());

  std::vector<json> events = EventsAbout(*client, resources::kEvents, "default", name);
  ASSERT_EQ(events.size(), 2u);
  const json& warning = events[0]["reason"] == "InvalidWorkloadConfig" ? events[0] : events[1];
  EXPECT_EQ(warning["type"], "Warning");
  EXPECT_EQ(warning["note"], note);
  EXPECT_EQ(warning["series"]["count"], 3);
  EXPECT_EQ(warning["regarding"]["uid"], ref.uid);
  EXPECT_EQ(warning["reportingController"], "gpuop.io/operator");

  // What `kubectl describe node` reads: the core/v1 view of the same objects.
  const Resource core_events{"", "v1", "events", true};
  std::vector<json> core = EventsAbout(*client, core_events, "default", name);
  ASSERT_EQ(core.size(), 2u);
  const json& core_warning = core[0]["reason"] == "InvalidWorkloadConfig" ? core[0] : core[1];
  EXPECT_EQ(core_warning["series"]["count"], 3);
  EXPECT_EQ(core_warning["message"], note);

  EXPECT_TRUE(client->Delete(resources::kNodes, "", name).ok());
}

TEST(EventRecorder, AnEventDeletedOnTheServerIsStartedAgain) {
  auto client = AdminClient();
  const std::string name = gpuop::testing::UniqueName("event-gone");
  const ObjectReference ref{"v1", "Node", name, "", ""};
  EventRecorder recorder(*client, "gpuop.io/operator", "operator-0");
  ASSERT_TRUE(recorder.Warning(ref, "Broken", "Check", "x").ok());
  std::vector<json> events = EventsAbout(*client, resources::kEvents, "default", name);
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(client->Delete(resources::kEvents, "default", events[0]["metadata"]["name"]).ok());
  ASSERT_TRUE(recorder.Warning(ref, "Broken", "Check", "x").ok());
  events = EventsAbout(*client, resources::kEvents, "default", name);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].contains("series"));  // A fresh Event, count 1.
}

}  // namespace
}  // namespace gpuop::kube
