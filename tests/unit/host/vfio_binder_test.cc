// VfioBinder and the VFIO manager over simulated nodes (tests/fixtures): the kernel's sysfs
// semantics are the simulation's; what is asserted is what gpuop does with them.

#include "host/vfio_binder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "common/logger.h"
#include "host/pci_device.h"
#include "operands/validator/vfio_validation.h"
#include "operands/vfio_manager/vfio_manager.h"
#include "tests/fixtures/boot_for_test.h"
#include "tests/fixtures/topologies.h"

namespace gpuop::host {
namespace {

using ::gpuop::testing::SimHost;
using ::gpuop::testing::SimulatedKernel;
using ::testing::HasSubstr;

struct Node {
  explicit Node(SimHost host)
      : kernel(testing::BootOrThrow(std::move(host))), root(kernel->Root()) {}

  operands::VfioPassReport BindAll(TargetSelection selection = {}, BinderOptions binder = {}) {
    operands::VfioManager manager(root, *kernel,
                                  {.selection = selection,
                                   .binder = binder,
                                   .validations_dir = root.Path("/run/nvidia/validations")},
                                  log);
    return manager.BindAll();
  }
  bool ReadyFileExists() const { return root.Exists("/run/nvidia/validations/vfio-pci-ready"); }

  std::unique_ptr<SimulatedKernel> kernel;
  HostRoot root;
  std::ostringstream log_text;
  common::Logger log{log_text, common::LogFormat::kText};
};

TEST(VfioManager, BindsASingleGpuLoadsVfioPciAndWritesTheReadyFile) {
  Node node(testing::SingleH100Pcie());
  const operands::VfioPassReport report = node.BindAll();

  EXPECT_TRUE(report.AllBound());
  EXPECT_EQ(report.selected, 1);
  EXPECT_EQ(node.kernel->DriverOf(testing::kH100PcieBdf), "vfio-pci");
  EXPECT_EQ(node.kernel->DriverOf(testing::kNicBdf), "ice");  // Not ours: untouched.
  EXPECT_THAT(node.kernel->LoadedModules(), ::testing::Contains("vfio_pci"));
  EXPECT_TRUE(node.root.Exists("/dev/vfio/38"));
  EXPECT_TRUE(node.ReadyFileExists());
  EXPECT_THAT(node.log_text.str(), HasSubstr("previous_driver=nvidia"));
  EXPECT_TRUE(operands::CheckGpusOnVfio(node.root).ok());
}

TEST(VfioManager, ASecondPassWritesNothingToTheKernel) {
  Node node(testing::HgxH100x8());
  ASSERT_TRUE(node.BindAll().AllBound());
  node.kernel->ClearWrites();

  const operands::VfioPassReport again = node.BindAll();

  EXPECT_TRUE(again.AllBound());
  EXPECT_TRUE(node.kernel->Writes().empty());
  for (const DeviceBinding& binding : again.bindings) {
    EXPECT_EQ(binding.outcome, DeviceBinding::Outcome::kAlreadyBound) << binding.address;
  }
}

TEST(VfioManager, BindsAllEightHgxGpusAndLeavesNvSwitchesUnlessAsked) {
  Node node(testing::HgxH100x8());
  const operands::VfioPassReport report = node.BindAll();
  EXPECT_TRUE(report.AllBound());
  EXPECT_EQ(report.selected, 8);
  for (const std::string& gpu : testing::HgxGpuBdfs()) {
    EXPECT_EQ(node.kernel->DriverOf(gpu), "vfio-pci") << gpu;
  }
  for (const std::string& nvswitch : testing::HgxNvswitchBdfs()) {
    EXPECT_EQ(node.kernel->DriverOf(nvswitch), "nvidia") << nvswitch;
  }

  EXPECT_TRUE(node.BindAll({.include_nvswitches = true}).AllBound());
  for (const std::string& nvswitch : testing::HgxNvswitchBdfs()) {
    EXPECT_EQ(node.kernel->DriverOf(nvswitch), "vfio-pci") << nvswitch;
  }
}

TEST(VfioManager, TakesTheGpusAudioFunctionAlongSoTheGroupIsViable) {
  Node node(testing::GpuWithAudioCompanion());
  const PciScan scan = ScanPciDevices(node.root);
  const std::vector<BindTarget> targets = BindTargets(scan, {});
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[1].Reason(), std::string("companion of ") + testing::kVgaGpuBdf);

  EXPECT_TRUE(node.BindAll().AllBound());
  EXPECT_EQ(node.kernel->DriverOf(testing::kVgaGpuBdf), "vfio-pci");
  EXPECT_EQ(node.kernel->DriverOf(testing::kAudioBdf), "vfio-pci");
  EXPECT_TRUE(operands::CheckGpusOnVfio(node.root).ok());
}

TEST(VfioValidation, AGroupWithTheAudioFunctionStillOnItsDriverIsNotViable) {
  Node node(testing::GpuWithAudioCompanion());
  VfioBinder binder(node.root, *node.kernel, {});
  ASSERT_EQ(binder.Bind(testing::kVgaGpuBdf).outcome, DeviceBinding::Outcome::kBound);

  const absl::Status status = operands::CheckGpusOnVfio(node.root);
  EXPECT_TRUE(absl::IsFailedPrecondition(status));
  EXPECT_THAT(std::string(status.message()), HasSubstr("not viable"));
  EXPECT_THAT(std::string(status.message()), HasSubstr(testing::kAudioBdf));
}

TEST(VfioManager, GraceHopperGoesToTheVariantDriverModulesAliasNames) {
  Node node(testing::GraceHopper());
  EXPECT_TRUE(node.BindAll().AllBound());
  EXPECT_EQ(node.kernel->DriverOf(testing::kGh200Bdf), "nvgrace_gpu_vfio_pci");
  EXPECT_TRUE(operands::CheckGpusOnVfio(node.root).ok());
}

TEST(VfioManager, AnUnbindThatBlocksFailsThatGpuWithAHintAndNoReadyFile) {
  Node node(testing::GpuWithBlockedUnbind(std::chrono::milliseconds(1500)));
  const operands::VfioPassReport report =
      node.BindAll({}, {.unbind_timeout = std::chrono::milliseconds(100)});

  EXPECT_FALSE(report.AllBound());
  ASSERT_EQ(report.bindings.size(), 1u);
  EXPECT_TRUE(absl::IsUnavailable(report.bindings[0].error));
  EXPECT_THAT(std::string(report.bindings[0].error.message()), HasSubstr("/dev/nvidia"));
  EXPECT_FALSE(node.ReadyFileExists());
  EXPECT_EQ(node.kernel->DriverOf(testing::kNicBdf), "ice");

  // Once the holder lets go the unbind completes; the next pass finishes the bind.
  node.kernel->WaitUntilIdle();
  EXPECT_TRUE(node.BindAll().AllBound());
  EXPECT_EQ(node.kernel->DriverOf(testing::kH100PcieBdf), "vfio-pci");
  EXPECT_TRUE(node.ReadyFileExists());
}

TEST(VfioManager, AnUnbindGivenUpOnThatFinishesDuringTheNextPassStillEndsOnVfio) {
  Node node(testing::GpuWithBlockedUnbind(std::chrono::milliseconds(800)));
  ASSERT_FALSE(node.BindAll({}, {.unbind_timeout = std::chrono::milliseconds(100)}).AllBound());

  // At once, without waiting: this pass's writes queue on the device lock behind the first
  // unbind, whose completion leaves the device driverless; its own unbind then finds no driver.
  const operands::VfioPassReport report = node.BindAll();
  EXPECT_TRUE(report.AllBound()) << report.bindings[0].error;
  EXPECT_EQ(node.kernel->DriverOf(testing::kH100PcieBdf), "vfio-pci");
  EXPECT_EQ(report.bindings[0].previous_driver, "nvidia");
}

TEST(VfioManager, WithTheIommuOffTheBindFailsNamingTheBiosSetting) {
  Node node(testing::IommuOff());
  const operands::VfioPassReport report = node.BindAll();

  EXPECT_FALSE(report.AllBound());
  ASSERT_EQ(report.bindings.size(), 1u);
  EXPECT_THAT(std::string(report.bindings[0].error.message()), HasSubstr("IOMMU is off"));
  EXPECT_FALSE(node.ReadyFileExists());
}

TEST(VfioBinder, RestorePutsTheGpuBackOnItsPreviousDriver) {
  Node node(testing::SingleH100Pcie());
  VfioBinder binder(node.root, *node.kernel, {});
  const DeviceBinding binding = binder.Bind(testing::kH100PcieBdf);
  ASSERT_EQ(binding.outcome, DeviceBinding::Outcome::kBound) << binding.error;

  ASSERT_TRUE(binder.Restore(binding).ok());
  EXPECT_EQ(node.kernel->DriverOf(testing::kH100PcieBdf), "nvidia");
  EXPECT_EQ(node.root
                .ReadTrimmed(std::string(kPciDevicesDir) + "/" + testing::kH100PcieBdf +
                             "/driver_override")
                .value_or(""),
            "(null)");
}

}  // namespace
}  // namespace gpuop::host
