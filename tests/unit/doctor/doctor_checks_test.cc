#include "doctor/doctor_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "cli/dispatcher.h"
#include "cli/subcommands.h"
#include "tests/fixtures/boot_for_test.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/topologies.h"

namespace gpuop::doctor {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
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

// The check of that name. A report without it fails the test: operator[] would make up an empty
// check, whose kInfo verdict and empty detail let some expectations pass on nothing.
const DoctorCheck& Named(const std::map<std::string, DoctorCheck>& checks,
                         const std::string& name) {
  static const DoctorCheck kMissing{.name = "(missing)"};
  const auto it = checks.find(name);
  if (it == checks.end()) {
    ADD_FAILURE() << "no check named \"" << name << "\" among " << checks.size();
    return kMissing;
  }
  return it->second;
}

struct DoctorRun {
  int exit = -1;
  std::string out;
  std::string err;
};

DoctorRun RunDoctor(const std::vector<std::string>& args) {
  std::ostringstream out;
  std::ostringstream err;
  DoctorRun run;
  run.exit = cli::DoctorSubcommand().run(args, out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

TEST(DoctorChecks, AGoodPassthroughHostPassesAndNamesItsGpus) {
  auto checks = ChecksOf(testing::SingleH100Pcie());
  EXPECT_EQ(Named(checks, "NVIDIA GPUs").verdict, Verdict::kOk);
  EXPECT_THAT(Named(checks, "NVIDIA GPUs").detail, HasSubstr("0000:65:00.0 [10de:2331]"));
  EXPECT_EQ(Named(checks, "IOMMU").verdict, Verdict::kOk);
  // The fixture has no /dev/kvm.
  EXPECT_EQ(Named(checks, "CPU virtualization").verdict, Verdict::kFail);
  EXPECT_EQ(Named(checks, "CC-capable GPUs").detail, "1 of 1: 0000:65:00.0 (hopper)");
  EXPECT_EQ(Named(checks, "GPU drivers").verdict, Verdict::kWarn);  // Still on nvidia.
  EXPECT_EQ(checks.count("host root"), 0u);  // Only there when the root is not a host's.
}

TEST(DoctorChecks, IommuOffFailsWithTheBiosHint) {
  auto checks = ChecksOf(testing::IommuOff());
  EXPECT_EQ(Named(checks, "IOMMU").verdict, Verdict::kFail);
  EXPECT_THAT(Named(checks, "IOMMU").hint, HasSubstr("intel_iommu=on"));
  EXPECT_EQ(Named(checks, "kernel command line").verdict, Verdict::kInfo);
}

TEST(DoctorChecks, ANodeWithoutGpusSkipsTheGpuChecksInsteadOfFailing) {
  testing::SimHost host = testing::SingleH100Pcie();
  std::erase_if(host.devices, [](const testing::SimPciDevice& d) { return d.vendor == 0x10de; });
  auto checks = ChecksOf(host);
  EXPECT_EQ(Named(checks, "NVIDIA GPUs").verdict, Verdict::kInfo);
  EXPECT_EQ(Named(checks, "GPU drivers").verdict, Verdict::kSkip);
  EXPECT_FALSE(checks.empty());
  for (const auto& [name, check] : checks) EXPECT_NE(check.verdict, Verdict::kFail) << name;
}

TEST(DoctorChecks, ARootWithoutSysBusPciIsNotReadyAndSaysWhatIsMissing) {
  const std::string root = testing::ScratchDir("doctor");
  const DoctorReport report = RunDoctorChecks(host::HostRoot(root));
  EXPECT_TRUE(report.Failed());
  ASSERT_EQ(report.checks.size(), 1u);  // Nothing else can be judged from there.
  EXPECT_EQ(report.checks[0].name, "host root");
  EXPECT_EQ(report.checks[0].verdict, Verdict::kFail);
  EXPECT_THAT(report.checks[0].detail, HasSubstr(root + "/sys/bus/pci is missing"));
  EXPECT_THAT(report.checks[0].hint, HasSubstr("--host-root"));

  const DoctorRun run = RunDoctor({"--host-root", root});
  EXPECT_EQ(run.exit, 1);
  EXPECT_THAT(run.out, HasSubstr("NOT READY"));
  EXPECT_THAT(run.out, HasSubstr("/sys/bus/pci is missing"));
  const DoctorRun json = RunDoctor({"--host-root", root, "--json"});
  EXPECT_EQ(json.exit, 1);
  EXPECT_THAT(json.out, HasSubstr("\"ready\": false"));
}

TEST(DoctorChecks, AHostRootThatDoesNotExistIsRefusedNamingIt) {
  const std::string missing = testing::ScratchDir("doctor") + "/nonexistent";
  const absl::Status status = ValidateHostRoot(missing);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("\"" + missing + "\""));
  EXPECT_THAT(status.message(), HasSubstr("does not exist"));

  // Before, the command judged the missing tree and called the host ready.
  const DoctorRun run = RunDoctor({"--host-root", missing});
  EXPECT_EQ(run.exit, cli::kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("doctor: host root \"" + missing + "\""));
  EXPECT_THAT(run.err, HasSubstr("usage: gpuop doctor"));
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(RunDoctor({"--host-root", missing, "--json"}).out, Not(HasSubstr("ready")));
}

TEST(DoctorChecks, AHostRootThatIsAFileIsRefusedNamingIt) {
  const std::string file = testing::ScratchDir("doctor") + "/not-a-dir";
  testing::WriteFile(file, "x");
  const absl::Status status = ValidateHostRoot(file);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("\"" + file +
                                          "\" (--host-root or $HOST_ROOT) is not a "
                                          "directory"));
  EXPECT_EQ(RunDoctor({"--host-root", file}).exit, cli::kExitUsage);
}

TEST(DoctorChecks, AnExistingDirectoryIsAUsableHostRoot) {
  EXPECT_TRUE(ValidateHostRoot(testing::ScratchDir("doctor")).ok());
  EXPECT_TRUE(ValidateHostRoot("/").ok());
}

}  // namespace
}  // namespace gpuop::doctor
