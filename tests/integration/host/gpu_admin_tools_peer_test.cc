// Our native CC mode read against NVIDIA's real gpu-admin-tools (the PyPI repackaging of the MIT
// code, tools/peers/gpu-admin-tools), both reading the same simulated GPU: the tool's
// /sys/bus/pci/devices is hard-coded, so it runs in a private mount namespace with the
// simulated tree bound over /sys/bus/pci/devices and /sys/devices (the devices' links are
// relative). Nothing of the machine's /sys is touched. The simulated BAR0 puts each register
// where the tool's register map for the chip has it (tests/fixtures/sim_bar0.h), not where our
// table says, so a register we have wrong for a family shows here as a read that fails or
// differs. For a Hopper, a gb10x and a gb20x GPU and every mode, the tool's "CC mode is <x>"
// must be what ReadGpuCcState says; so must PPCIe on Hopper and on an NVSwitch.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "absl/strings/str_format.h"

#include "common/subprocess.h"
#include "host/gpu_cc_mode.h"
#include "host/pci_device.h"
#include "tests/fixtures/boot_for_test.h"
#include "tests/fixtures/topologies.h"

namespace gpuop::host {
namespace {

using ::testing::HasSubstr;

// The tool's answer for one query ("CC mode is on" -> "on"), or its output when it has none.
std::string AskTheTool(const std::string& root, const std::string& bdf, const std::string& query,
                       const std::string& word) {
  const std::string script =
      "mount --bind \"$1/sys/bus/pci/devices\" /sys/bus/pci/devices && "
      "mount --bind \"$1/sys/devices\" /sys/devices && "
      "exec python3 \"$2\" --gpu-bdf \"$3\" \"$4\"";
  absl::StatusOr<common::ProcessResult> run =
      common::RunProcess({"unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                          "peer", root, GPU_ADMIN_TOOLS_PY, bdf, query},
                         {.timeout = std::chrono::seconds(60)});
  if (!run.ok()) return std::string(run.status().message());
  const std::string output = run->out + run->err;
  std::smatch match;
  if (run->exit_code == 0 &&
      std::regex_search(output, match, std::regex(word + " mode is ([a-z-]+)"))) {
    return match[1];
  }
  return "exit " + std::to_string(run->exit_code) + ": " + output;
}

// Our own read of the simulated device at kH100PcieBdf.
GpuCcState OurRead(const testing::SimulatedKernel& kernel) {
  const HostRoot root(kernel.Root());
  absl::StatusOr<PciDevice> device = ReadPciDevice(root, testing::kH100PcieBdf);
  EXPECT_TRUE(device.ok()) << device.status();
  if (!device.ok()) return {};
  absl::StatusOr<GpuCcState> ours = ReadGpuCcState(root, *device, std::chrono::seconds(1));
  EXPECT_TRUE(ours.ok()) << ours.status();
  return ours.ok() ? *ours : GpuCcState{};
}

TEST(GpuAdminToolsPeer, TheRealToolReadsTheSameCcModeAsWeDo) {
  // H100 SXM5 (gh100), B200 (gb100), RTX PRO 6000 Blackwell Server Edition (gb202: the tool
  // waits for its boot at 0xad00bc, not at gh100's and gb100's 0x200bc).
  for (const uint16_t id : {uint16_t{0x2330}, uint16_t{0x2901}, uint16_t{0x2bb5}}) {
    for (const std::string mode : {"off", "on", "devtools"}) {
      SCOPED_TRACE(absl::StrFormat("10de:%04x %s", id, mode));
      testing::SimHost host = testing::SingleH100Pcie();
      testing::DeviceAt(host, testing::kH100PcieBdf).device = id;
      testing::DeviceAt(host, testing::kH100PcieBdf).cc_mode = mode;
      std::unique_ptr<testing::SimulatedKernel> kernel = testing::BootOrThrow(host);
      const GpuCcState ours = OurRead(*kernel);
      EXPECT_EQ(CcModeWord(ours.cc), mode);
      EXPECT_EQ(AskTheTool(kernel->Root(), testing::kH100PcieBdf, "--query-cc-mode", "CC"),
                CcModeWord(ours.cc));
    }
  }
}

TEST(GpuAdminToolsPeer, TheRealToolReadsTheSamePpcieModeAsWeDo) {
  for (const bool ppcie : {false, true}) {
    testing::SimHost host = testing::SingleH100Pcie();
    testing::DeviceAt(host, testing::kH100PcieBdf).ppcie = ppcie;
    std::unique_ptr<testing::SimulatedKernel> kernel = testing::BootOrThrow(host);
    EXPECT_EQ(OurRead(*kernel).ppcie, ppcie);
    EXPECT_EQ(AskTheTool(kernel->Root(), testing::kH100PcieBdf, "--query-ppcie-mode", "PPCIe"),
              ppcie ? "on" : "off");
  }
}

// A gen3 NVSwitch: the tool waits for its boot at 0x660bc before it reads 0x28c50.
TEST(GpuAdminToolsPeer, TheRealToolReadsTheSameNvSwitchPpcieModeAsWeDo) {
  for (const bool ppcie : {false, true}) {
    SCOPED_TRACE(ppcie ? "on" : "off");
    testing::SimHost host = testing::SingleH100Pcie();
    testing::SimPciDevice& nvswitch = testing::DeviceAt(host, testing::kH100PcieBdf);
    nvswitch.device = 0x22a3;
    nvswitch.subsystem_device = 0x1796;
    nvswitch.class_code = 0x068000;
    nvswitch.ppcie = ppcie;
    std::unique_ptr<testing::SimulatedKernel> kernel = testing::BootOrThrow(host);
    EXPECT_EQ(OurRead(*kernel).ppcie, ppcie);
    EXPECT_EQ(AskTheTool(kernel->Root(), testing::kH100PcieBdf, "--query-ppcie-mode", "PPCIe"),
              ppcie ? "on" : "off");
  }
}

}  // namespace
}  // namespace gpuop::host
