// The VFIO manager's Events on its Node, on the real kube-apiserver: a failed bind is one
// Warning however many passes repeat it, and the recovery is one Normal event.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "operands/vfio_manager/node_reporter.h"
#include "tests/fixtures/boot_for_test.h"
#include "tests/fixtures/topologies.h"
#include "tests/integration/kube/informer_testing.h"

namespace gpuop::operands {
namespace {

using ::testing::HasSubstr;

std::vector<kube::json> EventsAbout(kube::RestClient& client, const std::string& node) {
  auto list = client.ListAll(kube::resources::kEvents, "default");
  EXPECT_TRUE(list.ok()) << list.status();
  std::vector<kube::json> found;
  if (!list.ok()) return found;
  for (const kube::json& event : list->items) {
    if (event["regarding"].value("name", "") == node) found.push_back(event);
  }
  return found;
}

TEST(VfioNodeReporter, AFailureIsOneWarningEventAndTheRecoveryOneNormalEvent) {
  auto client = kube::AdminClient();
  const std::string name = gpuop::testing::UniqueName("vfio-node");
  ASSERT_TRUE(client->Create(kube::resources::kNodes, "", kube::LabelledNode(name, "vfio")).ok());
  std::ostringstream log_text;
  common::Logger log(log_text, common::LogFormat::kText);
  kube::EventRecorder recorder(*client, "gpuop.io/vfio-manager", "vfio-manager-test");
  VfioNodeReporter reporter(*client, recorder, name, log);

  auto kernel = testing::BootOrFail(testing::GpuWithBlockedUnbind(std::chrono::seconds(2)));
  ASSERT_NE(kernel, nullptr);
  host::HostRoot root(kernel->Root());
  VfioManager manager(root, *kernel, {.binder = {.unbind_timeout = std::chrono::milliseconds(100)}},
                      log);
  manager.AddObserver([&](const VfioPassReport& report) { reporter.Report(report); });
  const VfioPassReport failed = manager.BindAll();
  reporter.Report(failed);  // The same outcome again (a resync): not sent again.

  std::vector<kube::json> events = EventsAbout(*client, name);
  ASSERT_EQ(events.size(), 1u) << log_text.str();
  EXPECT_EQ(events[0]["type"], "Warning");
  EXPECT_EQ(events[0]["reason"], "VfioBindFailed");
  EXPECT_EQ(events[0]["reportingController"], "gpuop.io/vfio-manager");
  EXPECT_THAT(events[0]["note"].get<std::string>(), HasSubstr(testing::kH100PcieBdf));
  EXPECT_FALSE(events[0].contains("series"));

  kernel->WaitUntilIdle();
  ASSERT_TRUE(manager.BindAll().Ready()) << log_text.str();
  events = EventsAbout(*client, name);
  ASSERT_EQ(events.size(), 2u);
  const kube::json& normal = events[0]["type"] == "Normal" ? events[0] : events[1];
  EXPECT_EQ(normal["reason"], "VfioBound");

  EXPECT_TRUE(client->Delete(kube::resources::kNodes, "", name).ok());
}

TEST(VfioNodeReporter, AnUnknownNodeIsLoggedAndTriedAgainNextPass) {
  auto client = kube::AdminClient();
  const std::string name = gpuop::testing::UniqueName("vfio-late-node");
  std::ostringstream log_text;
  common::Logger log(log_text, common::LogFormat::kText);
  kube::EventRecorder recorder(*client, "gpuop.io/vfio-manager", "vfio-manager-test");
  VfioNodeReporter reporter(*client, recorder, name, log);
  auto kernel = testing::BootOrFail(testing::IommuOff());
  ASSERT_NE(kernel, nullptr);
  host::HostRoot root(kernel->Root());
  VfioManager manager(root, *kernel, {}, log);
  manager.AddObserver([&](const VfioPassReport& report) { reporter.Report(report); });

  manager.BindAll();
  EXPECT_THAT(log_text.str(), HasSubstr("cannot read this node"));
  ASSERT_TRUE(client->Create(kube::resources::kNodes, "", kube::LabelledNode(name, "vfio")).ok());
  manager.BindAll();
  std::vector<kube::json> events = EventsAbout(*client, name);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0]["note"].get<std::string>(), HasSubstr("IOMMU is off"));

  EXPECT_TRUE(client->Delete(kube::resources::kNodes, "", name).ok());
}

}  // namespace
}  // namespace gpuop::operands
