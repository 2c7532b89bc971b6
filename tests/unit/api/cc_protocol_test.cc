// The CC protocol's vocabulary as every component reads it: the modes and their label words,
// and the pause values the CC manager writes into deploy labels and everyone else recognises.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/cc_mode.h"
#include "api/labels.h"

namespace gpuop::api {
namespace {

using ::testing::HasSubstr;

TEST(ParseCcMode, ReadsBackEveryModeItNames) {
  for (CcMode mode : kAllCcModes) {
    absl::StatusOr<CcMode> parsed = ParseCcMode(CcModeName(mode));
    ASSERT_TRUE(parsed.ok()) << CcModeName(mode);
    EXPECT_EQ(*parsed, mode);
  }
  EXPECT_EQ(CcModeName(CcMode::kPpcie), "ppcie");
}

TEST(ParseCcMode, RefusesWhatIsNotALabelWord) {
  for (const char* text : {"", "On", "enabled", "invalid-devtools-only-fix-by-setting-cc-mode"}) {
    absl::StatusOr<CcMode> parsed = ParseCcMode(text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(parsed.status().message(), HasSubstr("on, off, devtools, ppcie"));
  }
}

TEST(IsPausedValue, KnowsTheCcManagersPausesAndOtherAgents) {
  for (const char* value : {"paused-for-cc-mode-change", "custom_paused-for-cc-mode-change",
                            "paused-for-something-else"}) {
    EXPECT_TRUE(IsPausedValue(value)) << value;
    EXPECT_TRUE(DeployLabelKeepsOperand(value)) << value;
    EXPECT_TRUE(IsPausedValue(PausedValueOf(value))) << value;
  }
  for (const char* value : {"true", "false", "", "custom"}) {
    EXPECT_FALSE(IsPausedValue(value)) << value;
  }
  EXPECT_TRUE(DeployLabelKeepsOperand("true"));
  EXPECT_FALSE(DeployLabelKeepsOperand("false"));
  EXPECT_FALSE(DeployLabelKeepsOperand(""));
}

TEST(PausedValueOf, KeepsAnotherAgentsPauseToGiveItBack) {
  EXPECT_EQ(PausedValueOf("paused-for-something-else"),
            "paused-for-something-else_paused-for-cc-mode-change");
  EXPECT_EQ(UnpausedValue(PausedValueOf("paused-for-something-else")), "paused-for-something-else");
  EXPECT_EQ(UnpausedValue("custom"), "custom");
}

TEST(DeployLabelOf, PrefixesTheOperand) {
  EXPECT_EQ(DeployLabelOf(operand::kVfioManager), "nvidia.com/gpu.deploy.vfio-manager");
}

}  // namespace
}  // namespace gpuop::api
