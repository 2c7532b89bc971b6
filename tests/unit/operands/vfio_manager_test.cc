// The VFIO manager across agent restarts (the previous-drivers state file), what it reports to
// the admin (Node notices, metrics), over simulated nodes (tests/fixtures).

#include "operands/vfio_manager/vfio_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <sstream>

#include "common/files.h"
#include "common/stop_signal.h"
#include "host/pci_device.h"
#include "operands/vfio_manager/node_reporter.h"
#include "operands/vfio_manager/previous_drivers.h"
#include "operands/vfio_manager/vfio_manager_metrics.h"
#include "prometheus/text_serializer.h"
#include "tests/fixtures/boot_for_test.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/topologies.h"

namespace gpuop::operands {
namespace {

using ::gpuop::testing::SimHost;
using ::gpuop::testing::SimulatedKernel;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Node {
  explicit Node(SimHost host)
      : kernel(testing::BootOrThrow(std::move(host))),
        root(kernel->Root()),
        state_file(root.Path("/run/gpuop/vfio-manager/previous-drivers.json")) {}

  // A fresh agent process on this node, as after a pod restart.
  std::unique_ptr<VfioManager> StartAgent(host::BinderOptions binder = {}) {
    return std::make_unique<VfioManager>(
        root, *kernel,
        VfioManagerOptions{.binder = binder,
                           .validations_dir = root.Path("/run/nvidia/validations"),
                           .unbind_on_exit = true,
                           .state_file = state_file},
        log);
  }
  // An agent that stops at once (its Run returns right after the first pass), asked at stop
  // whether the node is moving to the container path.
  int RunUntilStopped(std::function<bool()> give_back_at_stop) {
    VfioManager agent(root, *kernel,
                      VfioManagerOptions{.validations_dir = root.Path("/run/nvidia/validations"),
                                         .state_file = state_file,
                                         .give_back_at_stop = std::move(give_back_at_stop)},
                      log);
    common::StopSignal stop;
    stop.Stop();
    return agent.Run(stop);
  }
  // What an admin does by hand: echo the device back to nvidia.
  void RebindByHand(const std::string& bdf, const std::string& driver) {
    const std::string device = "/sys/bus/pci/devices/" + bdf;
    ASSERT_TRUE(kernel->WriteAttribute(device + "/driver/unbind", bdf, kTimeout).ok());
    ASSERT_TRUE(kernel->WriteAttribute(device + "/driver_override", "\n", kTimeout).ok());
    ASSERT_TRUE(
        kernel->WriteAttribute("/sys/bus/pci/drivers/" + driver + "/bind", bdf, kTimeout).ok());
  }
  bool StateFileExists() const { return std::filesystem::exists(state_file); }

  static constexpr std::chrono::milliseconds kTimeout{1000};
  std::unique_ptr<SimulatedKernel> kernel;
  host::HostRoot root;
  std::string state_file;
  std::ostringstream log_text;
  common::Logger log{log_text, common::LogFormat::kText};
};

TEST(VfioManagerRestart, UnbindOnExitRestoresWhatAnEarlierRunBound) {
  Node node(testing::GpuWithAudioCompanion());
  ASSERT_TRUE(node.StartAgent()->BindAll().Ready());  // The agent is then killed: no restore.
  ASSERT_EQ(node.kernel->DriverOf(testing::kVgaGpuBdf), "vfio-pci");
  ASSERT_TRUE(node.StateFileExists());
  auto recorded = LoadPreviousDrivers(node.state_file);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  ASSERT_EQ(recorded->size(), 2u);
  EXPECT_EQ((*recorded)[0].address, testing::kVgaGpuBdf);
  EXPECT_EQ((*recorded)[0].previous_driver, "nvidia");
  EXPECT_EQ((*recorded)[1].previous_driver, "snd_hda_intel");

  // The restarted agent finds both on vfio, writes nothing, and restores them when it stops.
  std::unique_ptr<VfioManager> restarted = node.StartAgent();
  node.kernel->ClearWrites();
  EXPECT_TRUE(restarted->BindAll().Ready());
  EXPECT_THAT(node.kernel->Writes(), IsEmpty());
  restarted->RestoreAll();
  EXPECT_EQ(node.kernel->DriverOf(testing::kVgaGpuBdf), "nvidia");
  EXPECT_EQ(node.kernel->DriverOf(testing::kAudioBdf), "snd_hda_intel");
  EXPECT_FALSE(node.StateFileExists());
  EXPECT_FALSE(node.root.Exists("/run/nvidia/validations/vfio-pci-ready"));
}

TEST(VfioManagerStop, GivesTheGpusBackWhenTheNodeMovesToTheContainerPath) {
  Node node(testing::GpuWithAudioCompanion());
  int asked = 0;
  EXPECT_EQ(node.RunUntilStopped([&] {
    ++asked;
    return true;
  }),
            0);
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(node.kernel->DriverOf(testing::kVgaGpuBdf), "nvidia");
  EXPECT_EQ(node.kernel->DriverOf(testing::kAudioBdf), "snd_hda_intel");
  EXPECT_FALSE(node.StateFileExists());
  EXPECT_FALSE(node.root.Exists("/run/nvidia/validations/vfio-pci-ready"));
  EXPECT_THAT(node.log_text.str(), HasSubstr("moving to the container path"));
}

TEST(VfioManagerStop, KeepsTheGpusOnVfioForARestartOrAnUninstall) {
  Node node(testing::GpuWithAudioCompanion());
  EXPECT_EQ(node.RunUntilStopped([] { return false; }), 0);
  EXPECT_EQ(node.kernel->DriverOf(testing::kVgaGpuBdf), "vfio-pci");
  EXPECT_TRUE(node.StateFileExists());  // The next run can still give them back.
  EXPECT_EQ(node.RunUntilStopped(nullptr), 0);
  EXPECT_EQ(node.kernel->DriverOf(testing::kVgaGpuBdf), "vfio-pci");
  // A later stop that is a move to the container path gives back what the first run bound.
  EXPECT_EQ(node.RunUntilStopped([] { return true; }), 0);
  EXPECT_EQ(node.kernel->DriverOf(testing::kVgaGpuBdf), "nvidia");
}

TEST(VfioManagerRestart, ADeviceSomeoneRemovedFromVfioMeanwhileIsNotTouchedAtExit) {
  Node node(testing::SingleH100Pcie());
  ASSERT_TRUE(node.StartAgent()->BindAll().Ready());
  node.RebindByHand(testing::kH100PcieBdf, "nvidia");

  std::unique_ptr<VfioManager> restarted = node.StartAgent();
  EXPECT_FALSE(node.StateFileExists());  // The stale entry is dropped at once.
  node.kernel->ClearWrites();
  restarted->RestoreAll();
  EXPECT_THAT(node.kernel->Writes(), IsEmpty());
  EXPECT_EQ(node.kernel->DriverOf(testing::kH100PcieBdf), "nvidia");
}

TEST(VfioManagerRestart, AMalformedStateFileIsLoggedAndReplaced) {
  Node node(testing::SingleH100Pcie());
  testing::WriteFile(node.state_file, "{\"devices\": [{\"address\": \"../../../../etc\"");

  std::unique_ptr<VfioManager> agent = node.StartAgent();
  EXPECT_THAT(node.log_text.str(), HasSubstr("ignoring the state file"));
  EXPECT_TRUE(agent->BindAll().Ready());
  auto recorded = LoadPreviousDrivers(node.state_file);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  ASSERT_EQ(recorded->size(), 1u);
  EXPECT_EQ((*recorded)[0].previous_driver, "nvidia");
}

TEST(PreviousDrivers, RejectsEntriesThatAreNotPciAddressesOrDrivers) {
  const std::string path = testing::ScratchDir("previous-drivers") + "/previous-drivers.json";
  const char* bad_files[] = {
      "[]",
      "{\"devices\": 3}",
      "{\"devices\": [{\"address\": \"../../../../etc\", \"previousDriver\": \"\", "
      "\"driver\": \"vfio-pci\"}]}",
      "{\"devices\": [{\"address\": \"0000:65:00.0\", \"previousDriver\": 1, "
      "\"driver\": \"vfio-pci\"}]}",
      // A driver name becomes /sys/bus/pci/drivers/<name>/bind: one path component only.
      "{\"devices\": [{\"address\": \"0000:65:00.0\", \"previousDriver\": "
      "\"../../../../tmp/x\", \"driver\": \"vfio-pci\"}]}",
      "{\"devices\": [{\"address\": \"0000:65:00.0\", \"previousDriver\": \"nvidia\", "
      "\"driver\": \"..\"}]}",
      "{\"devices\": [{\"address\": \"0000:65:00.0\", \"previousDriver\": \"nvidia\", "
      "\"driver\": \"\"}]}",
      "not json",
  };
  for (const char* text : bad_files) {
    testing::WriteFile(path, text);
    auto loaded = LoadPreviousDrivers(path);
    EXPECT_TRUE(absl::IsInvalidArgument(loaded.status())) << text;
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(path)) << text;
  }
  std::filesystem::remove(path);
  auto missing = LoadPreviousDrivers(path);
  ASSERT_TRUE(missing.ok());
  EXPECT_THAT(*missing, IsEmpty());
}

TEST(IsPciAddress, AcceptsSysfsAddressesOnly) {
  EXPECT_TRUE(host::IsPciAddress("0000:65:00.0"));
  EXPECT_TRUE(host::IsPciAddress("0009:01:00.0"));
  EXPECT_TRUE(host::IsPciAddress("10000:e1:1f.7"));  // VMD domains have five digits.
  for (const char* bad :
       {"", "65:00.0", "0000:65:00", "0000:65:20.0", "0000:65:00.8", "0000:65:00.0/../..",
        "0000:6G:00.0", "0000:65:00.0 ", "../65:00.0", "0000:65:00.00", "0000:65:0.0"}) {
    EXPECT_FALSE(host::IsPciAddress(bad)) << bad;
  }
}

TEST(NoticeFor, AFailedBindIsAWarningNamingTheDeviceAndWhy) {
  Node node(testing::GpuWithBlockedUnbind(std::chrono::milliseconds(1500)));
  const VfioPassReport failed =
      node.StartAgent({.unbind_timeout = std::chrono::milliseconds(100)})->BindAll();
  std::optional<NodeNotice> notice = NoticeFor(failed);
  ASSERT_TRUE(notice.has_value());
  EXPECT_EQ(notice->type, "Warning");
  EXPECT_EQ(notice->reason, "VfioBindFailed");
  EXPECT_THAT(notice->note, HasSubstr(testing::kH100PcieBdf));
  EXPECT_THAT(notice->note, HasSubstr("/dev/nvidia"));
  EXPECT_THAT(notice->note, HasSubstr("vfio-pci-ready withheld"));
  EXPECT_EQ(failed.NotReadyReason(), "1 PCI function(s) could not be bound to vfio");

  node.kernel->WaitUntilIdle();
  const VfioPassReport bound = node.StartAgent()->BindAll();
  notice = NoticeFor(bound);
  ASSERT_TRUE(notice.has_value());
  EXPECT_EQ(notice->type, "Normal");
  EXPECT_EQ(notice->reason, "VfioBound");
  EXPECT_EQ(notice->note, "1 GPU(s) and 0 companion function(s) on vfio; vfio-pci-ready written");
  EXPECT_EQ(bound.NotReadyReason(), "");
}

TEST(NoticeFor, ANodeWithoutGpusIsAWarningToo) {
  SimHost host = testing::SingleH100Pcie();
  std::erase_if(host.devices, [](const auto& device) { return device.vendor == 0x10de; });
  ASSERT_EQ(host.devices.size(), 1u);  // Only the NIC is left.
  Node node(std::move(host));
  const VfioPassReport report = node.StartAgent()->BindAll();
  ASSERT_EQ(report.selected, 0);
  std::optional<NodeNotice> notice = NoticeFor(report);
  ASSERT_TRUE(notice.has_value());
  EXPECT_EQ(notice->reason, "NoDevicesToBind");
  EXPECT_EQ(report.NotReadyReason(), "no devices to bind");
}

TEST(VfioManagerMetrics, CountBindsOncePerBindAndDevicesPerPass) {
  Node node(testing::GpuWithAudioCompanion());
  prometheus::Registry registry;
  VfioManagerMetrics metrics(registry);
  std::unique_ptr<VfioManager> agent = node.StartAgent();
  agent->AddObserver([&](const VfioPassReport& report) { metrics.Observe(report); });
  agent->BindAll();
  agent->BindAll();  // Steady state: no new binds.

  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text, HasSubstr("gpuop_vfio_manager_binds_total{result=\"ok\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("gpuop_vfio_manager_binds_total{result=\"error\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("gpuop_vfio_manager_devices{state=\"on_vfio\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("gpuop_vfio_manager_devices{state=\"failed\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("gpuop_vfio_manager_passes_total 2\n"));
  EXPECT_THAT(text, HasSubstr("gpuop_vfio_manager_ready 1\n"));
}

}  // namespace
}  // namespace gpuop::operands
