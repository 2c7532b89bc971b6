#include "cli/doctor_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/fixtures/boot_for_test.h"
#include "tests/fixtures/topologies.h"

namespace gpuop::cli {
namespace {

using Verdict = DoctorCheck::Verdict;

std::map<std::string, DoctorCheck> ChecksOf(testing::SimHost host) {
  auto kernel = testing::BootOrFail(std::move(host));
  std::map<std::string, DoctorCheck> by_name;
  if (kernel == nullptr) return by_name;
  for (DoctorCheck& check : RunDoctorChecks(host::HostRoot(kernel->Root())).checks) {
    by_name[check.name] = std::move(check);
  }
  return by_name;
}

TEST(DoctorChecks, AGoodPassthroughHostPassesAndNamesItsGpus) {
  auto checks = ChecksOf(testing::SingleH100Pcie());
  EXPECT_EQ(checks["NVIDIA GPUs"].verdict, Verdict::kOk);
  EXPECT_THAT(checks["NVIDIA GPUs"].detail, ::testing::HasSubstr("0000:65:00.0 [10de:2331]"));
  EXPECT_EQ(checks["IOMMU"].verdict, Verdict::kOk);
  EXPECT_EQ(checks["CPU virtualization"].verdict, Verdict::kFail);  // The fixture has no /dev/kvm.
  EXPECT_EQ(checks["CC-capable GPUs"].detail, "1 of 1: 0000:65:00.0 (hopper)");
  EXPECT_EQ(checks["GPU drivers"].verdict, Verdict::kWarn);  // Still on nvidia.
}

TEST(DoctorChecks, IommuOffFailsWithTheBiosHint) {
  auto checks = ChecksOf(testing::IommuOff());
  EXPECT_EQ(checks["IOMMU"].verdict, Verdict::kFail);
  EXPECT_THAT(checks["IOMMU"].hint, ::testing::HasSubstr("intel_iommu=on"));
  EXPECT_EQ(checks["kernel command line"].verdict, Verdict::kInfo);
}

TEST(DoctorChecks, ANodeWithoutGpusSkipsTheGpuChecksInsteadOfFailing) {
  testing::SimHost host = testing::SingleH100Pcie();
  std::erase_if(host.devices, [](const testing::SimPciDevice& d) { return d.vendor == 0x10de; });
  auto checks = ChecksOf(host);
  EXPECT_EQ(checks["NVIDIA GPUs"].verdict, Verdict::kInfo);
  EXPECT_EQ(checks["GPU drivers"].verdict, Verdict::kSkip);
  for (const auto& [name, check] : checks) EXPECT_NE(check.verdict, Verdict::kFail) << name;
}

}  // namespace
}  // namespace gpuop::cli
