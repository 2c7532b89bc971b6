#include "common/subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gpuop::common {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

TEST(RunProcess, CapturesStdoutStderrAndExitCodeSeparately) {
  auto result = RunProcess({"sh", "-c", "echo to-out; echo to-err >&2; exit 3"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->out, "to-out\n");
  EXPECT_EQ(result->err, "to-err\n");
}

TEST(RunProcess, PassesArgumentsWithoutAShell) {
  auto result = RunProcess({"printf", "%s|", "a b", "$HOME", "*"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->out, "a b|$HOME|*|");
}

TEST(RunProcess, FeedsStdin) {
  // Larger than a pipe buffer (64 KiB), so the writes must interleave with the reads.
  std::string input(1 << 20, 'x');
  auto result = RunProcess({"wc", "-c"}, {.stdin_data = input});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(std::stoul(result->out), input.size());
}

TEST(RunProcess, ChildThatIgnoresStdinDoesNotKillTheCaller) {
  auto result = RunProcess({"true"}, {.stdin_data = std::string(1 << 20, 'x')});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0);
}

TEST(RunProcess, MissingProgramIsNotFound) {
  auto result = RunProcess({"/nonexistent/program"});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(result.status().message(), HasSubstr("/nonexistent/program"));
}

TEST(RunProcess, KillsAChildThatOutlivesTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  auto result = RunProcess({"sleep", "30"}, {.timeout = 200ms});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(RunProcess, TimeoutAlsoHoldsAfterTheChildClosesItsOutput) {
  auto result = RunProcess({"sh", "-c", "exec >&- 2>&-; sleep 30"}, {.timeout = 200ms});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(RunProcess, ReportsTheSignalThatEndedTheChild) {
  auto result = RunProcess({"sh", "-c", "kill -TERM $$"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 128 + 15);
}

TEST(RunProcess, EmptyArgvIsInvalid) {
  EXPECT_EQ(RunProcess({}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gpuop::common
