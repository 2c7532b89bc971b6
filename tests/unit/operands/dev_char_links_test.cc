// The driver step's /dev/char links: which ones, from the host's /proc/devices, its GPUs and its
// MIG minors, and how they are made in a folder that may already hold some.

#include "operands/validator/dev_char_links.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <ostream>

#include "tests/fixtures/boot_for_test.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/topologies.h"

namespace gpuop::operands {

// For gtest's messages (found by argument-dependent lookup, so not in the anonymous namespace).
void PrintTo(const DevCharLink& link, std::ostream* out) {
  *out << link.name << " -> " << link.target;
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::IsOk;
using ::testing::Pair;
using ::testing::SizeIs;
using testing::StatusIs;

constexpr char kProcDevices[] =
    "Character devices:\n"
    "  1 mem\n"
    "195 nvidia\n"
    "234 nvidia-caps\n"
    "236 nvidia-uvm\n"
    "\n"
    "Block devices:\n"
    "  7 loop\n"
    "259 nvidia-block-device-that-is-not-ours\n";

TEST(NvidiaCharMajors, OnlyTheCharacterSectionsNvidiaNames) {
  EXPECT_THAT(NvidiaCharMajors(kProcDevices),
              ElementsAre(Pair("nvidia", 195), Pair("nvidia-caps", 234), Pair("nvidia-uvm", 236)));
  EXPECT_THAT(NvidiaCharMajors("Character devices:\n195 nvidia-frontend\nnot a line\n"),
              ElementsAre(Pair("nvidia-frontend", 195)));
}

TEST(MigMinors, CapsByName) {
  EXPECT_THAT(MigMinors("config 1\nmonitor 2\ngpu0/gi1/access 12\ngpu0/gi1/ci0/access 13\n\n"),
              ElementsAre(Pair("config", 1), Pair("gpu0/gi1/access", 12),
                          Pair("gpu0/gi1/ci0/access", 13), Pair("monitor", 2)));
}

TEST(PlanDevCharLinks, ControlDevicesEachGpuAndItsMigCapabilities) {
  const std::map<std::string, int> mig = {
      {"config", 1},
      {"monitor", 2},
      {"gpu0/gi0/access", 3},
      {"gpu0/gi0/ci0/access", 4},
      {"gpu0/gi0/ci1/access", 5},
      {"gpu0/gi1/access", 12},
      // gi2 of GPU 1 without gi0 and gi1: not reached, as in NVIDIA's walk.
      {"gpu1/gi2/access", 30}};
  absl::StatusOr<std::vector<DevCharLink>> links =
      PlanDevCharLinks(NvidiaCharMajors(kProcDevices), 2, mig, "/");
  ASSERT_THAT(links, IsOk());
  EXPECT_THAT(*links, ElementsAre(DevCharLink{"195:254", "/dev/nvidia-modeset"},
                                  DevCharLink{"195:255", "/dev/nvidiactl"},
                                  DevCharLink{"236:0", "/dev/nvidia-uvm"},
                                  DevCharLink{"236:1", "/dev/nvidia-uvm-tools"},
                                  DevCharLink{"234:1", "/dev/nvidia-caps/nvidia-cap1"},
                                  DevCharLink{"234:2", "/dev/nvidia-caps/nvidia-cap2"},
                                  DevCharLink{"195:0", "/dev/nvidia0"},
                                  DevCharLink{"234:3", "/dev/nvidia-caps/nvidia-cap3"},
                                  DevCharLink{"234:4", "/dev/nvidia-caps/nvidia-cap4"},
                                  DevCharLink{"234:5", "/dev/nvidia-caps/nvidia-cap5"},
                                  DevCharLink{"234:12", "/dev/nvidia-caps/nvidia-cap12"},
                                  DevCharLink{"195:1", "/dev/nvidia1"}));
}

TEST(PlanDevCharLinks, TargetsAreUnderTheDeviceRootAndUvmWaitsForItsModule) {
  absl::StatusOr<std::vector<DevCharLink>> links =
      PlanDevCharLinks({{"nvidia-frontend", 195}}, 1, {}, "/run/nvidia/driver/");
  ASSERT_THAT(links, IsOk());
  EXPECT_THAT(*links, ElementsAre(DevCharLink{"195:254", "/run/nvidia/driver/dev/nvidia-modeset"},
                                  DevCharLink{"195:255", "/run/nvidia/driver/dev/nvidiactl"},
                                  DevCharLink{"195:0", "/run/nvidia/driver/dev/nvidia0"}));
}

TEST(PlanDevCharLinks, NoGpuNoLinksAndGpusWithoutTheModuleAreAnError) {
  EXPECT_THAT(PlanDevCharLinks({}, 0, {}, "/"), testing::IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(PlanDevCharLinks({{"nvidia-uvm", 236}}, 1, {}, "/"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not loaded")));
}

TEST(PlanDevCharLinksOnHost, CountsTheHostsNvidiaGpusOnly) {
  auto kernel = testing::BootOrFail(testing::HgxH100x8());  // Eight GPUs, four NVSwitches.
  ASSERT_NE(kernel, nullptr);
  testing::WriteFile(kernel->HostPath("/proc/devices"), kProcDevices);
  testing::WriteFile(kernel->HostPath("/proc/driver/nvidia-caps/mig-minors"), "config 1\n");
  absl::StatusOr<std::vector<DevCharLink>> links =
      PlanDevCharLinksOnHost(host::HostRoot(kernel->Root()), "/");
  ASSERT_THAT(links, IsOk());
  // Two control, two UVM, the MIG config, eight GPUs.
  EXPECT_THAT(*links, SizeIs(13));
  EXPECT_EQ(links->back(), (DevCharLink{"195:7", "/dev/nvidia7"}));
}

TEST(CreateDevCharLinks, MakesTheMissingOnesAndLeavesWhatIsThere) {
  const std::string dir = testing::ScratchDir("devchar") + "/dev/char";
  ASSERT_THAT(testing::MakeDirs(dir), IsOk());
  // udev's own link for a node it made: relative, and right.
  std::filesystem::create_symlink("../nvidia0", dir + "/195:0");
  const DevCharLinkResult result =
      CreateDevCharLinks({{"195:0", "/dev/nvidia0"}, {"195:255", "/dev/nvidiactl"}}, dir);
  EXPECT_EQ(result.created, 1);
  EXPECT_EQ(result.existing, 1);
  EXPECT_THAT(result.failed, IsEmpty());
  EXPECT_EQ(std::filesystem::read_symlink(dir + "/195:0"), "../nvidia0");
  EXPECT_EQ(std::filesystem::read_symlink(dir + "/195:255"), "/dev/nvidiactl");
}

TEST(CreateDevCharLinks, ALinkThatCannotBeMadeIsReportedWithItsPath) {
  const std::string dir = testing::ScratchDir("devchar");
  testing::WriteFile(dir + "/char", "a file where the folder should be");
  const DevCharLinkResult result = CreateDevCharLinks({{"195:0", "/dev/nvidia0"}}, dir + "/char");
  EXPECT_EQ(result.created, 0);
  EXPECT_THAT(result.failed, ElementsAre(HasSubstr(dir + "/char/195:0: Not a directory")));
}

}  // namespace
}  // namespace gpuop::operands
