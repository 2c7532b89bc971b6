// .driver-ctr-ready as the driver container writes it, and the module check behind each feature.

#include "operands/validator/driver_features.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/fixtures/test_files.h"

namespace gpuop::operands {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::IsOk;
using testing::IsOkAndHolds;
using testing::StatusIs;

TEST(EnabledDriverFeatures, TheKeysSetToTrueInAnyOfYamlsSpellings) {
  EXPECT_THAT(EnabledDriverFeatures("GDRCOPY_ENABLED: true\nGDS_ENABLED: false\n"
                                    "GPU_DIRECT_RDMA_ENABLED: false\n"),
              IsOkAndHolds(ElementsAre("GDRCOPY_ENABLED")));
  EXPECT_THAT(EnabledDriverFeatures("# written by the driver container\n---\n"
                                    "GDS_ENABLED: True  # GDS on\n"
                                    "GPU_DIRECT_RDMA_ENABLED:yes\n\nNEW_FEATURE: on\n"),
              IsOkAndHolds(ElementsAre("GDS_ENABLED", "GPU_DIRECT_RDMA_ENABLED", "NEW_FEATURE")));
  EXPECT_THAT(EnabledDriverFeatures(""), IsOkAndHolds(IsEmpty()));
}

TEST(EnabledDriverFeatures, ALineThatIsNotKeyColonBoolIsRefusedByNumber) {
  EXPECT_THAT(EnabledDriverFeatures("GDS_ENABLED: true\nGDRCOPY_ENABLED: maybe\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 2 is not `KEY: true|false`: \"GDRCOPY_ENABLED: maybe\"")));
  EXPECT_THAT(EnabledDriverFeatures("GDS_ENABLED\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1")));
  EXPECT_THAT(EnabledDriverFeatures(": true\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1")));
}

TEST(ModuleLoadedPerProcModules, TheWholeNameMustMatch) {
  const std::string root = testing::ScratchDir("drvfeat");
  const host::HostRoot host(root);
  EXPECT_FALSE(ModuleLoadedPerProcModules(host, "gdrdrv").ok());  // No /proc/modules at all.
  testing::WriteFile(
      root + "/proc/modules",
      "nvidia_fs_helper 16384 0 - Live 0x0\nnvidia 56885248 2 nvidia_fs, Live 0x0\n");
  EXPECT_THAT(ModuleLoadedPerProcModules(host, "nvidia_fs"), IsOkAndHolds(false));
  EXPECT_THAT(ModuleLoadedPerProcModules(host, "nvidia"), IsOkAndHolds(true));
}

}  // namespace
}  // namespace gpuop::operands
