// The validator's toolkit step with nvidia-smi's stand-in on PATH (as the NVIDIA runtime would
// have put the real one there), run for real through fork/exec.

#include "operands/validator/toolkit_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/fixtures/simulated_driver_root.h"
#include "tests/fixtures/test_files.h"

namespace gpuop::operands {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::IsOk;
using ::testing::StartsWith;
using testing::StatusIs;

class ToolkitStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ScratchDir("toolkit");
    injected_ = dir_ + "/injected";
    ASSERT_THAT(testing::MakeSimulatedDriverRoot(injected_, "/usr/bin"), IsOk());
    ASSERT_THAT(testing::MakeDirs(dir_ + "/empty"), IsOk());
    options_ = {.validations_dir = dir_ + "/validations",
                // Empty entries and a folder without it come first: they are passed over.
                .search_path = "::" + dir_ + "/empty:" + injected_ + "/usr/bin"};
  }
  bool Ready() const {
    return std::filesystem::exists(options_.validations_dir + "/toolkit-ready");
  }

  std::string dir_, injected_;
  ToolkitValidationOptions options_;
  ProcessNvidiaSmiRunner runner_;
};

TEST_F(ToolkitStepTest, NvidiaSmiThatWorksOnPathWritesToolkitReady) {
  ASSERT_THAT(testing::SetNvidiaModuleLoaded(injected_, true), IsOk());
  ASSERT_THAT(ValidateToolkit(options_, runner_), IsOk());
  EXPECT_TRUE(Ready());
  EXPECT_EQ(testing::ReadWhole(options_.validations_dir + "/toolkit-ready"), "");
  // Found on PATH and run as it is: no chroot, nothing preloaded by the step.
  EXPECT_THAT(testing::NvidiaSmiCalls(injected_),
              ElementsAre(StartsWith(injected_ + "/usr/bin/nvidia-smi LD_PRELOAD=")));
}

TEST_F(ToolkitStepTest, NvidiaSmiThatCannotReachTheDriverFailsAndTakesTheOldFileAway) {
  testing::WriteFile(options_.validations_dir + "/toolkit-ready", "");
  EXPECT_THAT(ValidateToolkit(options_, runner_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("exited 9: NVIDIA-SMI has failed because it couldn't "
                                 "communicate with the NVIDIA driver")));
  EXPECT_FALSE(Ready());
}

TEST_F(ToolkitStepTest, NoNvidiaSmiOnPathMeansTheRuntimeInjectedNothing) {
  options_.search_path = dir_ + "/empty:/nonexistent";
  EXPECT_THAT(ValidateToolkit(options_, runner_),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("nvidia-smi is not in any folder of PATH (" + dir_ +
                                 "/empty:/nonexistent): the NVIDIA runtime did not inject")));
  EXPECT_FALSE(Ready());
}

}  // namespace
}  // namespace gpuop::operands
