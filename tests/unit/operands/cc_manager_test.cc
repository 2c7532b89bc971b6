// The CC manager's parts that need no API server: NVIDIA's pause values and their inverse, the
// state labels, and switching simulated GPUs through the gpu-admin-tools double
// (tests/fixtures/gpu_admin_tools_double.cc): in parallel, verified by our own BAR0 read, with
// the tool's failures (FSP timeout, a GPU back in its old mode) reported per GPU.

#include "operands/cc_manager/cc_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api/cc_mode.h"
#include "api/labels.h"
#include "api/paused_operands.h"
#include "host/pci_device.h"
#include "operands/cc_manager/cc_mode_switcher.h"
#include "operands/cc_manager/operand_pause.h"
#include "operands/validator/cc_manager_validation.h"
#include "operands/validator/ready_files.h"
#include "tests/fixtures/boot_for_test.h"
#include "tests/fixtures/topologies.h"
#include "tests/fixtures/wait_for.h"

namespace gpuop::operands {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(PausedValueOf, FollowsNvidiasMappingAndUndoesIt) {
  EXPECT_EQ(api::PausedValueOf("true"), "paused-for-cc-mode-change");
  EXPECT_EQ(api::PausedValueOf("false"), "false");
  EXPECT_EQ(api::PausedValueOf(""), "");
  EXPECT_EQ(api::PausedValueOf("paused-for-cc-mode-change"), "paused-for-cc-mode-change");
  EXPECT_EQ(api::PausedValueOf("custom"), "custom_paused-for-cc-mode-change");
  EXPECT_EQ(api::PausedValueOf("custom_paused-for-cc-mode-change"),
            "custom_paused-for-cc-mode-change");
  for (const std::string value : {"true", "false", "", "custom"}) {
    EXPECT_EQ(api::UnpausedValue(api::PausedValueOf(value)), value) << value;
  }
}

TEST(PausedOperands, IncludeTheKataDevicePluginNvidiaForgets) {
  std::vector<std::string> labels;
  for (const api::PausedOperand& operand : api::PausedOperands()) labels.push_back(operand.label);
  EXPECT_THAT(labels, ::testing::Contains("nvidia.com/gpu.deploy.kata-sandbox-device-plugin"));
  EXPECT_THAT(labels, ::testing::Contains("nvidia.com/gpu.deploy.vfio-manager"));
  EXPECT_EQ(labels.size(), 6u);
}

TEST(ReadyStateFor, PairsEachModeStateWithNvidiasReadiness) {
  EXPECT_EQ(ReadyStateFor("on"), "true");
  EXPECT_EQ(ReadyStateFor("ppcie"), "true");
  EXPECT_EQ(ReadyStateFor("off"), "false");
  EXPECT_EQ(ReadyStateFor("devtools"), "");
  EXPECT_EQ(ReadyStateFor("failed"), "");
}

TEST(ParseCcMode, NamesTheValidModesWhenRefusing) {
  EXPECT_EQ(*api::ParseCcMode("ppcie"), api::CcMode::kPpcie);
  absl::StatusOr<api::CcMode> bad = api::ParseCcMode("enabled");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("on, off, devtools, ppcie"));
}

class SwitchModeTest : public ::testing::Test {
 protected:
  void Boot(testing::SimHost host) {
    kernel_ = testing::BootOrThrow(std::move(host));
    root_ = host::HostRoot(kernel_->Root());
    ::setenv("GPU_ADMIN_TOOLS_DOUBLE_ROOT", kernel_->Root().c_str(), 1);
    ::setenv("GPU_ADMIN_TOOLS_DOUBLE_RESET_MS", "300", 1);
    ::unsetenv("GPU_ADMIN_TOOLS_DOUBLE_FAIL");
    steps_file_ = kernel_->Root() + "/double-steps";
    ::setenv("GPU_ADMIN_TOOLS_DOUBLE_LOG", steps_file_.c_str(), 1);
  }
  std::vector<host::PciDevice> Devices() { return host::ScanPciDevices(root_).devices; }
  std::string Mode(const std::string& bdf) {
    absl::StatusOr<host::PciDevice> device = host::ReadPciDevice(root_, bdf);
    absl::StatusOr<std::string> mode = ReadModeWord(root_, *device, std::chrono::seconds(1));
    return mode.ok() ? *mode : std::string(mode.status().message());
  }

  // The double's record of its sets: {start, end, bdf, what, mode}.
  struct Step {
    int64_t start = 0, end = 0;
    std::string bdf, what, mode;
  };
  std::vector<Step> Steps() {
    std::vector<Step> steps;
    std::ifstream in(steps_file_);
    for (Step step; in >> step.start >> step.end >> step.bdf >> step.what >> step.mode;) {
      steps.push_back(step);
    }
    return steps;
  }

  std::unique_ptr<testing::SimulatedKernel> kernel_;
  host::HostRoot root_;
  std::string steps_file_;
  const GpuAdminTools tools_{.command = {GPU_ADMIN_TOOLS_DOUBLE},
                             .timeout = std::chrono::seconds(20),
                             .boot_timeout = std::chrono::seconds(2)};
};

TEST_F(SwitchModeTest, EightGpusSwitchTogetherAndTheSwitchesAreLeftAlone) {
  Boot(testing::HgxH100x8());
  const SwitchReport report = SwitchMode(root_, Devices(), api::CcMode::kOn, tools_);
  EXPECT_TRUE(report.Ok()) << report.FirstError();
  EXPECT_TRUE(report.Switched());
  for (const std::string& bdf : testing::HgxGpuBdfs()) EXPECT_EQ(Mode(bdf), "on") << bdf;
  for (const std::string& bdf : testing::HgxNvswitchBdfs()) EXPECT_EQ(Mode(bdf), "off") << bdf;

  const SwitchReport again = SwitchMode(root_, Devices(), api::CcMode::kOn, tools_);
  EXPECT_TRUE(again.Ok());
  EXPECT_FALSE(again.Switched()) << "GPUs already on are not reset";
}

TEST_F(SwitchModeTest, PpcieTakesEveryGpuAndSwitchAndCcOffComesFirst) {
  Boot(testing::HgxH100x8());
  ASSERT_TRUE(SwitchMode(root_, Devices(), api::CcMode::kDevtools, tools_).Ok());
  std::filesystem::remove(steps_file_);
  const SwitchReport ppcie = SwitchMode(root_, Devices(), api::CcMode::kPpcie, tools_);
  EXPECT_TRUE(ppcie.Ok()) << ppcie.FirstError();
  // Every GPU's CC went off before any device's PPCIe came on.
  int64_t last_cc_off = 0, first_ppcie_on = INT64_MAX;
  int cc_off = 0, ppcie_on = 0;
  for (const Step& step : Steps()) {
    if (step.what == "CC" && step.mode == "off") {
      last_cc_off = std::max(last_cc_off, step.end);
      ++cc_off;
    }
    if (step.what == "PPCIe" && step.mode == "on") {
      first_ppcie_on = std::min(first_ppcie_on, step.start);
      ++ppcie_on;
    }
  }
  EXPECT_EQ(cc_off, 8);
  EXPECT_EQ(ppcie_on, 12) << "eight GPUs and four NVSwitches";
  EXPECT_LT(last_cc_off, first_ppcie_on);
  for (const std::string& bdf : testing::HgxGpuBdfs()) EXPECT_EQ(Mode(bdf), "ppcie") << bdf;
  for (const std::string& bdf : testing::HgxNvswitchBdfs()) EXPECT_EQ(Mode(bdf), "ppcie") << bdf;
  // And back: PPCIe goes off everywhere, switches included, before CC comes on.
  const SwitchReport on = SwitchMode(root_, Devices(), api::CcMode::kOn, tools_);
  EXPECT_TRUE(on.Ok()) << on.FirstError();
  for (const std::string& bdf : testing::HgxGpuBdfs()) EXPECT_EQ(Mode(bdf), "on") << bdf;
  for (const std::string& bdf : testing::HgxNvswitchBdfs()) EXPECT_EQ(Mode(bdf), "off") << bdf;
}

TEST_F(SwitchModeTest, WhenClearingTheOtherModeFailsNothingIsSwitchedOn) {
  Boot(testing::HgxH100x8());
  ASSERT_TRUE(SwitchMode(root_, Devices(), api::CcMode::kPpcie, tools_).Ok());
  const std::string stuck = testing::HgxNvswitchBdfs()[1];
  ::setenv("GPU_ADMIN_TOOLS_DOUBLE_FAIL", ("fsp-timeout:" + stuck).c_str(), 1);
  std::filesystem::remove(steps_file_);
  const SwitchReport on = SwitchMode(root_, Devices(), api::CcMode::kOn, tools_);
  EXPECT_FALSE(on.Ok());
  EXPECT_THAT(on.FirstError(), HasSubstr(stuck));
  for (const Step& step : Steps()) {
    EXPECT_FALSE(step.what == "CC" && step.mode == "on")
        << step.bdf << ": CC on while " << stuck << " still has PPCIe";
  }
  for (const std::string& bdf : testing::HgxGpuBdfs()) EXPECT_NE(Mode(bdf), "on") << bdf;
  EXPECT_EQ(Mode(stuck), "ppcie");
}

TEST_F(SwitchModeTest, AnFspTimeoutAndAMismatchAfterResetFailThatGpuOnly) {
  Boot(testing::HgxH100x8());
  const std::vector<std::string> gpus = testing::HgxGpuBdfs();
  ::setenv("GPU_ADMIN_TOOLS_DOUBLE_FAIL",
           ("fsp-timeout:" + gpus[2] + ",mismatch:" + gpus[5]).c_str(), 1);
  const SwitchReport report = SwitchMode(root_, Devices(), api::CcMode::kOn, tools_);
  EXPECT_FALSE(report.Ok());
  std::map<std::string, std::string> errors;
  for (const DeviceSwitch& device : report.devices) {
    if (!device.error.empty()) errors[device.address] = device.error;
  }
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_THAT(errors[gpus[2]], HasSubstr("Timed out polling for fsp cmd queue"));
  EXPECT_THAT(errors[gpus[5]], HasSubstr("failed to switch to CC mode on, current mode is off"));
  EXPECT_EQ(Mode(gpus[2]), "off");
  EXPECT_EQ(Mode(gpus[0]), "on") << "the other GPUs switched";
}

TEST_F(SwitchModeTest, AToolThatLiesIsCaughtByOurOwnRead) {
  Boot(testing::SingleH100Pcie());
  // A "tool" that prints the success lines and changes nothing.
  const GpuAdminTools liar{
      .command = {"/bin/sh", "-c",
                  "echo 'x INFO GPU CC mode set to on. It will be active after GPU reset.'; echo "
                  "'x INFO GPU was reset to apply the new CC mode.'",
                  "liar"},
      .boot_timeout = std::chrono::seconds(1)};
  const SwitchReport report = SwitchMode(root_, Devices(), api::CcMode::kOn, liar);
  EXPECT_FALSE(report.Ok());
  EXPECT_THAT(report.FirstError(), HasSubstr("reported success but the device reads off, not on"));
}

TEST(UnsupportedFor, NamesAGpuWithoutCcUnlessTheModeIsOff) {
  std::unique_ptr<testing::SimulatedKernel> kernel =
      testing::BootOrThrow(testing::GpuWithAudioCompanion());
  const std::vector<host::PciDevice> devices =
      host::ScanPciDevices(host::HostRoot(kernel->Root())).devices;
  EXPECT_THAT(UnsupportedFor(devices, api::CcMode::kOff), IsEmpty());
  const std::vector<std::string> on = UnsupportedFor(devices, api::CcMode::kOn);
  ASSERT_EQ(on.size(), 1u);
  EXPECT_THAT(on[0], HasSubstr(testing::kVgaGpuBdf));
  EXPECT_THAT(on[0], HasSubstr("not a Hopper or Blackwell GPU"));
}

TEST(ValidateCcManager, WaitsForTheAgentsFileOnlyOnACcCapableNode) {
  const std::string dir = ::testing::TempDir() + "/cc-validations";
  std::filesystem::remove_all(dir);
  common::StopSignal stop;
  // Not CC-capable: ready at once, whatever the agent did.
  ASSERT_TRUE(ValidateCcManager({.validations_dir = dir, .cc_capable = false}, stop).ok());
  EXPECT_TRUE(std::filesystem::exists(dir + "/cc-manager-ready"));

  // Capable, and the agent never writes its file: a timeout, and no ready file left behind.
  const absl::Status late = ValidateCcManager(
      {.validations_dir = dir, .cc_capable = true, .timeout = std::chrono::milliseconds(300)},
      stop);
  EXPECT_EQ(late.code(), absl::StatusCode::kDeadlineExceeded) << late;
  EXPECT_FALSE(std::filesystem::exists(dir + "/cc-manager-ready"));

  // The agent writes it while the step waits.
  std::thread agent([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::ofstream(dir + "/.cc-manager-ctr-ready").close();
  });
  const absl::Status seen = ValidateCcManager(
      {.validations_dir = dir, .cc_capable = true, .timeout = std::chrono::seconds(20)}, stop);
  agent.join();
  EXPECT_TRUE(seen.ok()) << seen;
  EXPECT_TRUE(std::filesystem::exists(dir + "/cc-manager-ready"));
}

TEST(WaitForFile, ReturnsWhenTheFileAppearsAndCreatesAMissingFolder) {
  const std::string dir = ::testing::TempDir() + "/wait-for-file/not-yet";
  std::filesystem::remove_all(::testing::TempDir() + "/wait-for-file");
  common::StopSignal stop;
  const absl::Status late =
      WaitForFile(dir + "/vfio-pci-ready", std::chrono::milliseconds(200), stop);
  EXPECT_EQ(late.code(), absl::StatusCode::kDeadlineExceeded) << late;
  EXPECT_TRUE(std::filesystem::is_directory(dir));

  std::thread validator([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::ofstream(dir + "/vfio-pci-ready").close();
  });
  const auto started = std::chrono::steady_clock::now();
  const absl::Status seen = WaitForFile(dir + "/vfio-pci-ready", std::chrono::seconds(20), stop);
  validator.join();
  EXPECT_TRUE(seen.ok()) << seen;
  // inotify, not a poll: well under the second a stop check waits.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));

  stop.Stop();
  EXPECT_TRUE(absl::IsCancelled(WaitForFile(dir + "/never", std::chrono::seconds(0), stop)));
}

TEST(HoldThenRemove, TakesTheProofsBackOnlyOnceStopped) {
  const std::string dir = ::testing::TempDir() + "/hold";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/vfio-pci-ready").close();
  std::ofstream(dir + "/workload-type") << "vm-passthrough";
  common::StopSignal stop;
  std::vector<std::string> left = {"not run"};
  std::thread holder([&] {
    left = HoldThenRemove({dir + "/vfio-pci-ready", dir + "/workload-type", dir + "/absent"}, stop);
  });
  // Held while not stopped: a fifth of a second, unless the file goes before.
  EXPECT_FALSE(testing::WaitFor([&] { return !std::filesystem::exists(dir + "/vfio-pci-ready"); },
                                std::chrono::milliseconds(200)));
  stop.Stop();
  holder.join();
  EXPECT_TRUE(left.empty());
  EXPECT_FALSE(std::filesystem::exists(dir + "/vfio-pci-ready"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/workload-type"));
}

}  // namespace
}  // namespace gpuop::operands
