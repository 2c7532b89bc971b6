// The CC mode read natively from simulated GPUs' BAR0 (tests/fixtures/sim_bar0.h, laid out by
// gpu-admin-tools' register maps, not by ours): each chip family's boot-complete and mode
// registers and bits, PPCIe, NVSwitches, and the states where the answer is an error rather
// than a guess (boot not complete, BAR0 all ones, a GPU without CC). Registers are planted
// where the fixture's map says the tool reads them, never at our own constants, so a wrong
// offset in gpu_cc_mode.cc fails here.

#include "host/gpu_cc_mode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_format.h"

#include "host/nvidia_gpu_ids.h"
#include "host/pci_device.h"
#include "tests/fixtures/boot_for_test.h"
#include "tests/fixtures/sim_bar0.h"
#include "tests/fixtures/topologies.h"
#include "tests/fixtures/wait_for.h"

namespace gpuop::host {
namespace {

using ::gpuop::testing::SimHost;
using ::testing::HasSubstr;

constexpr std::chrono::milliseconds kBoot(200);

struct Node {
  explicit Node(SimHost sim)
      : host(sim), kernel(testing::BootOrThrow(std::move(sim))), root(kernel->Root()) {}
  PciDevice Device(const std::string& bdf) {
    absl::StatusOr<PciDevice> device = ReadPciDevice(root, bdf);
    EXPECT_TRUE(device.ok()) << device.status();
    return *device;
  }
  std::string Bar0(const std::string& bdf) {
    return root.Path("/sys/bus/pci/devices/" + bdf + "/resource0");
  }
  // Where gpu-admin-tools reads the device (the fixture's map, written apart from ours).
  const testing::ToolRegisterMap& Tools(const std::string& bdf) {
    return *testing::ToolRegisterMapOf(testing::DeviceAt(host, bdf));
  }
  SimHost host;
  std::unique_ptr<testing::SimulatedKernel> kernel;
  HostRoot root;
};

SimHost H100With(const std::string& cc_mode, bool ppcie = false) {
  SimHost host = testing::SingleH100Pcie();
  testing::DeviceAt(host, testing::kH100PcieBdf).cc_mode = cc_mode;
  testing::DeviceAt(host, testing::kH100PcieBdf).ppcie = ppcie;
  return host;
}

// The same slot holding another GPU (10de:`device_id`).
SimHost GpuWith(uint16_t device_id, const std::string& cc_mode) {
  SimHost host = H100With(cc_mode);
  testing::DeviceAt(host, testing::kH100PcieBdf).device = device_id;
  return host;
}

TEST(ReadGpuCcState, ReadsEachModeOfAHopperGpu) {
  for (const std::string mode : {"off", "on", "devtools"}) {
    SCOPED_TRACE(mode);
    Node node(H100With(mode));
    absl::StatusOr<GpuCcState> state =
        ReadGpuCcState(node.root, node.Device(testing::kH100PcieBdf), kBoot);
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(CcModeWord(state->cc), mode);
    EXPECT_FALSE(state->ppcie);
  }
}

TEST(ReadGpuCcState, ReadsTheInvalidDevtoolsOnlyStateAndPpcie) {
  Node node(H100With("off", /*ppcie=*/true));
  const std::string bdf = testing::kH100PcieBdf;
  absl::StatusOr<GpuCcState> ppcie = ReadGpuCcState(node.root, node.Device(bdf), kBoot);
  ASSERT_TRUE(ppcie.ok()) << ppcie.status();
  EXPECT_TRUE(ppcie->ppcie);
  EXPECT_EQ(ppcie->cc, api::CcMode::kOff);
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), node.Tools(bdf).mode, 0x2).ok());
  absl::StatusOr<GpuCcState> invalid = ReadGpuCcState(node.root, node.Device(bdf), kBoot);
  ASSERT_TRUE(invalid.ok()) << invalid.status();
  EXPECT_EQ(CcModeWord(invalid->cc), "invalid-devtools-only-fix-by-setting-cc-mode");
}

TEST(ReadGpuCcState, ABlackwellGpuKeepsItsModeAt0x590) {
  Node node(GpuWith(0x2901, "on"));  // B200
  const std::string bdf = testing::kH100PcieBdf;
  ASSERT_EQ(node.Tools(bdf).mode, 0x590u);
  absl::StatusOr<GpuCcState> state = ReadGpuCcState(node.root, node.Device(bdf), kBoot);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->cc, api::CcMode::kOn);
  // Hopper's register means nothing on Blackwell: only 0x590 counts.
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), 0x1182cc, 0x0).ok());
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), node.Tools(bdf).mode, 0x3).ok());
  EXPECT_EQ(ReadGpuCcState(node.root, node.Device(bdf), kBoot)->cc, api::CcMode::kDevtools);
}

// gpu-admin-tools waits for a gb20x's boot at 0xad00bc (gb202's register map, which it uses
// for every gb2xx chip), not at the 0x200bc of Hopper and gb10x; a reader that polled 0x200bc
// there timed out on a GPU the tool reads.
TEST(ReadGpuCcState, AGb20xGpuSaysBootIsCompleteAt0xad00bc) {
  const std::string bdf = testing::kH100PcieBdf;
  for (const std::string mode : {"off", "on", "devtools"}) {
    SCOPED_TRACE(mode);
    Node node(GpuWith(0x2bb5, mode));  // RTX PRO 6000 Blackwell Server Edition, gb202
    ASSERT_STREQ(node.Tools(bdf).chip, "gb202");
    ASSERT_EQ(node.Tools(bdf).boot_complete, 0xad00bcu);
    // Nothing at Hopper's boot-complete register, as on the chip.
    ASSERT_EQ(testing::ReadBar0Register(node.Bar0(bdf), 0x200bc).value_or(1), 0u);
    absl::StatusOr<GpuCcState> state = ReadGpuCcState(node.root, node.Device(bdf), kBoot);
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(CcModeWord(state->cc), mode);
    EXPECT_FALSE(state->ppcie);
  }

  // And only 0xad00bc counts: a gb20x in reset is not taken for booted because 0x200bc reads
  // 0xff.
  Node node(GpuWith(0x2bb5, "on"));
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), 0xad00bc, 0).ok());
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), 0x200bc, 0xff).ok());
  absl::StatusOr<GpuCcState> booting = ReadGpuCcState(node.root, node.Device(bdf), kBoot);
  EXPECT_EQ(booting.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(booting.status().message(), HasSubstr("(gb202) has not finished booting"));
  EXPECT_THAT(booting.status().message(), HasSubstr("0xad00bc"));
}

// One GPU of each chip the tool knows: we wait where the tool waits and read where it reads.
TEST(ReadGpuCcState, EveryChipFamilyIsReadAtTheToolsRegisters) {
  const std::string bdf = testing::kH100PcieBdf;
  // gh100, gb100, gb102, gb110, gb112, gb202, gb203, gb205, gb206, gb207.
  for (const uint16_t id :
       {0x2330, 0x2901, 0x2981, 0x3180, 0x3200, 0x2b85, 0x2c05, 0x2f04, 0x2d05, 0x2d83}) {
    SCOPED_TRACE(absl::StrFormat("10de:%04x", id));
    Node node(GpuWith(id, "devtools"));
    const testing::ToolRegisterMap& tools = node.Tools(bdf);
    const PciDevice device = node.Device(bdf);
    std::optional<CcRegisters> ours = CcRegistersOf(device);
    ASSERT_TRUE(ours.has_value());
    // The tool reads gb110 by gb100's map, gb112 by gb102's, every gb2xx by gb202's: the
    // registers must agree, whatever the chip is called.
    EXPECT_EQ(ours->boot_complete, tools.boot_complete) << ours->family << " / " << tools.chip;
    EXPECT_EQ(ours->cc_mode.value_or(0), tools.mode) << ours->family << " / " << tools.chip;
    absl::StatusOr<GpuCcState> state = ReadGpuCcState(node.root, device, kBoot);
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(state->cc, api::CcMode::kDevtools);
    ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), tools.mode, 0x1).ok());
    EXPECT_EQ(ReadGpuCcState(node.root, device, kBoot)->cc, api::CcMode::kOn);
    ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), tools.boot_complete, 0).ok());
    EXPECT_EQ(ReadGpuCcState(node.root, device, std::chrono::milliseconds(30)).status().code(),
              absl::StatusCode::kDeadlineExceeded);
  }
}

// Our chip table and the architecture table the rest of gpuop uses (nvidia_gpu_ids.h) cover
// the same ids: a GPU is never CC-capable to one and unknown to the other.
TEST(CcRegistersOf, AgreesWithTheArchitectureOfEveryDeviceId) {
  for (uint32_t id = 0; id <= 0xffff; ++id) {
    const PciDevice gpu{
        .vendor = kNvidiaVendorId, .device = static_cast<uint16_t>(id), .class_code = 0x030200};
    const std::optional<CcRegisters> registers = CcRegistersOf(gpu);
    ASSERT_EQ(registers.has_value(), IsCcCapableGpu(gpu.device)) << absl::StrFormat("%04x", id);
    if (!registers.has_value()) continue;
    const bool hopper = GpuArchitecture(gpu.device) == "hopper";
    ASSERT_EQ(registers->family == "gh100", hopper) << absl::StrFormat("%04x", id);
    ASSERT_EQ(registers->ppcie.has_value(), hopper) << absl::StrFormat("%04x", id);
  }
  EXPECT_FALSE(
      CcRegistersOf({.vendor = 0x8086, .device = 0x2330, .class_code = 0x030200}).has_value());
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

  // The tool waits for a switch's boot too, at 0x660bc.
  ASSERT_EQ(node.Tools(switches.back()).boot_complete, 0x660bcu);
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(switches.back()), 0x660bc, 0).ok());
  absl::StatusOr<GpuCcState> booting =
      ReadGpuCcState(node.root, node.Device(switches.back()), kBoot);
  EXPECT_EQ(booting.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(booting.status().message(), HasSubstr("NVSwitch"));
}

TEST(ReadGpuCcState, WaitsForBootCompleteAndSaysWhenItNeverComes) {
  Node node(H100With("on"));
  const std::string bdf = testing::kH100PcieBdf;
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), node.Tools(bdf).boot_complete, 0).ok());
  absl::StatusOr<GpuCcState> booting = ReadGpuCcState(node.root, node.Device(bdf), kBoot);
  EXPECT_EQ(booting.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(booting.status().message(), HasSubstr("has not finished booting"));
  // A reset in progress: read once it has come back.
  std::thread reset([&] {
    ASSERT_TRUE(
        testing::SimulateReset(node.Bar0(bdf), node.Tools(bdf).mode, std::chrono::milliseconds(100))
            .ok());
  });
  absl::StatusOr<GpuCcState> after =
      ReadGpuCcState(node.root, node.Device(bdf), std::chrono::seconds(5));
  reset.join();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->cc, api::CcMode::kOn);
}

// A gb20x coming back from a reset (its boot-complete at 0xad00bc down): the read waits for
// it and finds the mode the reset made active.
TEST(ReadGpuCcState, AResetOfAGb20xGpuIsWaitedForAtItsOwnRegister) {
  Node node(GpuWith(0x2bb5, "off"));
  const std::string bdf = testing::kH100PcieBdf;
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), testing::kSimStagedModeRegister,
                                         testing::kSimStagedValid | 0x1)
                  .ok());
  std::thread reset([&] {
    ASSERT_TRUE(
        testing::SimulateReset(node.Bar0(bdf), node.Tools(bdf).mode, std::chrono::milliseconds(300))
            .ok());
  });
  // Until the reset has begun (boot-complete down), so that the read below meets it.
  testing::WaitFor(
      [&] { return testing::ReadBar0Register(node.Bar0(bdf), 0xad00bc).value_or(0) == 0; },
      std::chrono::seconds(5), std::chrono::milliseconds(1));
  absl::StatusOr<GpuCcState> after =
      ReadGpuCcState(node.root, node.Device(bdf), std::chrono::seconds(5));
  reset.join();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->cc, api::CcMode::kOn) << "read before the reset had finished";
}

TEST(ReadGpuCcState, AllOnesIsAnErrorAndAGpuWithoutCcIsRefused) {
  Node node(H100With("on"));
  const std::string bdf = testing::kH100PcieBdf;
  ASSERT_TRUE(testing::WriteBar0Register(node.Bar0(bdf), node.Tools(bdf).mode, 0xffffffff).ok());
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
  EXPECT_EQ(ReadGpuCcState(node.root, node.Device(bdf), kBoot)->cc, api::CcMode::kOff)
      << "staged, not active before the reset";
  ASSERT_TRUE(
      node.kernel
          ->WriteAttribute("/sys/bus/pci/devices/" + bdf + "/reset", "1", std::chrono::seconds(1))
          .ok());
  EXPECT_EQ(ReadGpuCcState(node.root, node.Device(bdf), kBoot)->cc, api::CcMode::kOn);
}

}  // namespace
}  // namespace gpuop::host
