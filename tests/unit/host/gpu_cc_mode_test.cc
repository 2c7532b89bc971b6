// The CC mode read natively from simulated GPUs' BAR0 (tests/fixtures/sim_bar0.h): each
// architecture's register and bits, PPCIe, NVSwitches, and the states where the answer is an
// error rather than a guess (boot not complete, BAR0 all ones, a GPU without CC).

#include "host/gpu_cc_mode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "host/pci_device.h"
#include "tests/fixtures/boot_for_test.h"
#include "tests/fixtures/sim_bar0.h"
#include "tests/fixtures/topologies.h"

namespace gpuop::host {
namespace {

using ::gpuop::testing::SimHost;
using ::testing::HasSubstr;

constexpr std::chrono::milliseconds kBoot(200);

struct Node {
  explicit Node(SimHost host)
      : kernel(testing::BootOrThrow(std::move(host))), root(kernel->Root()) {}
  PciDevice Device(const std::string& bdf) {
    absl::StatusOr<PciDevice> device = ReadPciDevice(root, bdf);
    EXPECT_TRUE(device.ok()) << device.status();
    return *device;
  }
  std::string Bar0(const std::string& bdf) {
    return root.Path("/sys/bus/pci/devices/" + bdf + "/resource0");
  }
  std::unique_ptr<testing::SimulatedKernel> kernel;
  HostRoot root;
};

SimHost H100With(const std::string& cc_mode, bool ppcie = false) {
  SimHost host = testing::SingleH100Pcie();
  testing::DeviceAt(host, testing::kH100PcieBdf).cc_mode = cc_mode;
  testing::DeviceAt(host, testing::kH100PcieBdf).ppcie = ppcie;
  return host;
}

TEST(ReadGpuCcState, ReadsEachModeOfAHopperGpu) {
  for (const std::string mode : {"off", "on", "devtools"}) {
    SCOPED_TRACE(mode);
    Node node(H100With(mode));
    absl::StatusOr<GpuCcState> state =
        ReadGpuCcState(node.root, node.Device(testing::kH100PcieBdf), kBoot);
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(CcModeName(state->cc), mode);
    EXPECT_FALSE(state->ppcie);
  }
}

TEST(ReadGpuCcState, ReadsTheInvalidDevtoolsOnlyStateAndPpcie) {
  Node node(H100With("off", /*ppcie=*/true));
  const std::string bdf = testing::kH100PcieBdf;
  absl::StatusOr<GpuCcState> ppcie = ReadGpuCcState(node.root, node.Device(bdf), kBoot);
  ASSERT_TRUE(ppcie.ok()) << ppcie.status();
  EXPECT_TRUE(ppcie->ppcie);
  EXPECT_EQ(ppcie->cc, CcMode::kOff);
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), kHopperCcRegister, 0x2).ok());
  absl::StatusOr<GpuCcState> invalid = ReadGpuCcState(node.root, node.Device(bdf), kBoot);
  ASSERT_TRUE(invalid.ok()) << invalid.status();
  EXPECT_EQ(CcModeName(invalid->cc), "invalid-devtools-only-fix-by-setting-cc-mode");
}

TEST(ReadGpuCcState, ABlackwellGpuKeepsItsModeAt0x590) {
  SimHost host = H100With("on");
  testing::DeviceAt(host, testing::kH100PcieBdf).device = 0x2901;  // B200
  Node node(std::move(host));
  const std::string bdf = testing::kH100PcieBdf;
  absl::StatusOr<GpuCcState> state = ReadGpuCcState(node.root, node.Device(bdf), kBoot);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->cc, CcMode::kOn);
  // Hopper's register means nothing on Blackwell: only 0x590 counts.
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), kHopperCcRegister, 0x0).ok());
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), kBlackwellCcRegister, 0x3).ok());
  EXPECT_EQ(ReadGpuCcState(node.root, node.Device(bdf), kBoot)->cc, CcMode::kDevtools);
}

TEST(ReadGpuCcState, NvSwitchesHavePpcieOnly) {
  SimHost host = testing::HgxH100x8();
  testing::DeviceAt(host, testing::HgxNvswitchBdfs().back()).ppcie = true;
  Node node(std::move(host));
  const std::vector<std::string> switches = testing::HgxNvswitchBdfs();
  absl::StatusOr<GpuCcState> off = ReadGpuCcState(node.root, node.Device(switches[0]), kBoot);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->ppcie);
  absl::StatusOr<GpuCcState> on = ReadGpuCcState(node.root, node.Device(switches.back()), kBoot);
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_TRUE(on->ppcie);
  EXPECT_FALSE(SupportsCcMode(node.Device(switches[0])))
      << "10de:22a3 is in Hopper's id range, but a switch has no CC mode";
  EXPECT_TRUE(SupportsPpcie(node.Device(switches[0])));
}

TEST(ReadGpuCcState, WaitsForBootCompleteAndSaysWhenItNeverComes) {
  Node node(H100With("on"));
  const std::string bdf = testing::kH100PcieBdf;
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), kFspBootCompleteRegister, 0).ok());
  absl::StatusOr<GpuCcState> booting = ReadGpuCcState(node.root, node.Device(bdf), kBoot);
  EXPECT_EQ(booting.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(booting.status().message(), HasSubstr("has not finished booting"));
  // A reset in progress: read once it has come back.
  std::thread reset([&] {
    ASSERT_TRUE(
        testing::SimulateReset(node.Bar0(bdf), kHopperCcRegister, std::chrono::milliseconds(100))
            .ok());
  });
  absl::StatusOr<GpuCcState> after =
      ReadGpuCcState(node.root, node.Device(bdf), std::chrono::seconds(5));
  reset.join();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->cc, CcMode::kOn);
}

TEST(ReadGpuCcState, AllOnesIsAnErrorAndAGpuWithoutCcIsRefused) {
  Node node(H100With("on"));
  const std::string bdf = testing::kH100PcieBdf;
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), kHopperCcRegister, 0xffffffff).ok());
  absl::StatusOr<GpuCcState> ones = ReadGpuCcState(node.root, node.Device(bdf), kBoot);
  EXPECT_EQ(ones.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(ones.status().message(), HasSubstr("reads 0xffffffff"));

  Node ampere(testing::GpuWithAudioCompanion());  // RTX A6000
  absl::StatusOr<GpuCcState> none =
      ReadGpuCcState(ampere.root, ampere.Device(testing::kVgaGpuBdf), kBoot);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(none.status().message(), HasSubstr("no confidential-computing mode"));
}

TEST(ReadGpuCcState, ASysfsResetAppliesAStagedMode) {
  Node node(H100With("off"));
  const std::string bdf = testing::kH100PcieBdf;
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), testing::kSimStagedModeRegister,
                                         testing::kSimStagedValid | 0x1)
                  .ok());
  EXPECT_EQ(ReadGpuCcState(node.root, node.Device(bdf), kBoot)->cc, CcMode::kOff)
      << "staged, not active before the reset";
  ASSERT_TRUE(
      node.kernel
          ->WriteAttribute("/sys/bus/pci/devices/" + bdf + "/reset", "1", std::chrono::seconds(1))
          .ok());
  EXPECT_EQ(ReadGpuCcState(node.root, node.Device(bdf), kBoot)->cc, CcMode::kOn);
}

}  // namespace
}  // namespace gpuop::host
