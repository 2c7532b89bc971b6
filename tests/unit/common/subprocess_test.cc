#include "common/subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

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

TEST(RunProcess, SetsTheGivenEnvironmentOverItsOwnAndKeepsTheRest) {
  // PATH is this process's: the child found `sh` through it.
  auto result = RunProcess({"sh", "-c", "echo \"$GPUOP_TEST_A|$HOME|${PATH:+path}\""},
                           {.env = {"GPUOP_TEST_A=one", "HOME=/elsewhere"}});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->out, "one|/elsewhere|path\n");
}

TEST(RunProcess, RunsInTheGivenRootOrSaysWhyNot) {
  if (::geteuid() != 0) {
    // Without CAP_SYS_CHROOT the child cannot chroot: an error that says so, not "not found".
    auto refused = RunProcess({"/bin/true"}, {.root_dir = "/"});
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
    EXPECT_THAT(refused.status().message(), HasSubstr("chroot to / to run /bin/true"));
    GTEST_SKIP() << "the chroot itself needs root";
  }
  auto at_root = RunProcess({"sh", "-c", "pwd"}, {.root_dir = "/"});
  ASSERT_TRUE(at_root.ok()) << at_root.status();
  EXPECT_EQ(at_root->out, "/\n");  // The child starts at its new root, not where it was.
  // A root without the program: it is looked up there, not here.
  const std::string empty = ::testing::TempDir() + "/empty-root-for-chroot";
  ::mkdir(empty.c_str(), 0755);
  EXPECT_EQ(RunProcess({"/bin/true"}, {.root_dir = empty}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(RunProcess, EmptyArgvIsInvalid) {
  EXPECT_EQ(RunProcess({}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gpuop::common
