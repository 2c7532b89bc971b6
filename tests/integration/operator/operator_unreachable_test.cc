// gpuop-operator (the chart's `gpuop operator`) pointed at an API server it cannot reach (a closed
// loopback port), as a process: it says so at once, naming the server and the reason, with leader
// election on and off; and SIGTERM ends it at once, not after a lease retry or a cache-sync wait.
// Needs no control plane.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <string>
#include <vector>

#include "common/files.h"
#include "tests/fixtures/http_get.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/wait_for.h"
#include "tests/integration/background_process.h"

namespace gpuop::op {
namespace {

using gpuop::testing::WaitFor;
using ::testing::HasSubstr;

class OperatorUnreachable : public ::testing::Test {
 protected:
  void SetUp() override {
    const int port = gpuop::testing::FreeLoopbackPort();  // Nothing listens there.
    ASSERT_GT(port, 0);
    server_ = "http://127.0.0.1:" + std::to_string(port);
    // Emptied first: an earlier run's log (the other build's, say) must not answer for this one.
    const std::string dir = gpuop::testing::ScratchDir("operator-unreachable");
    kubeconfig_ = dir + "/kubeconfig";
    log_path_ = dir + "/operator.log";
    gpuop::testing::WriteFile(kubeconfig_,
                              "apiVersion: v1\nkind: Config\n"
                              "clusters:\n- name: gone\n  cluster:\n    server: " +
                                  server_ +
                                  "\n"
                                  "users:\n- name: u\n  user:\n    token: t\n"
                                  "contexts:\n- name: gone\n  context: {cluster: gone, user: u}\n"
                                  "current-context: gone\n");
  }

  std::unique_ptr<gpuop::testing::BackgroundProcess> StartOperator(
      const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {GPUOP_OPERATOR_BINARY,
                                     "--kubeconfig",
                                     kubeconfig_,
                                     "--namespace",
                                     "default",
                                     "--identity",
                                     "operator-a",
                                     "--metrics-address",
                                     "",
                                     "--operand-image",
                                     "gpuop:test",
                                     "--log-format",
                                     "text"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<gpuop::testing::BackgroundProcess>(argv, log_path_);
  }

  std::string Log() const { return common::ReadFile(log_path_).value_or(""); }

  // Sends SIGTERM and expects the process to exit 0 within five seconds.
  void ExpectPromptExitOnSigterm(gpuop::testing::BackgroundProcess& process) {
    process.Signal(SIGTERM);
    ASSERT_TRUE(WaitFor([&] { return process.Exited(); }, std::chrono::seconds(5)))
        << "still running 5 s after SIGTERM\n"
        << Log();
    EXPECT_EQ(process.Wait(), 0) << Log();
    EXPECT_THAT(Log(), HasSubstr("operator stopped"));
  }

  std::string server_;
  std::string kubeconfig_;
  std::string log_path_;
};

TEST_F(OperatorUnreachable, WithLeaderElectionItLogsTheServerAndTheReasonAndStopsAtOnce) {
  auto process = StartOperator({});
  ASSERT_TRUE(
      WaitFor([&] { return Log().find("cannot read or take the lease") != std::string::npos; },
              std::chrono::seconds(5)))
      << Log();
  const std::string log = Log();
  EXPECT_THAT(log, HasSubstr("server=" + server_));
  EXPECT_THAT(log, HasSubstr(server_ + "/apis/coordination.k8s.io/v1/namespaces/default/leases/"));
  EXPECT_THAT(log, HasSubstr("failures=1"));

  ExpectPromptExitOnSigterm(*process);
}

TEST_F(OperatorUnreachable, WithoutLeaderElectionItLogsTheServerAndTheReasonAndStopsAtOnce) {
  auto process = StartOperator({"--leader-elect=false"});
  ASSERT_TRUE(
      WaitFor([&] { return Log().find("cannot list from the API server") != std::string::npos; },
              std::chrono::seconds(5)))
      << Log();
  const std::string log = Log();
  EXPECT_THAT(log, HasSubstr("server=" + server_));
  EXPECT_THAT(log, HasSubstr(server_ + "/api/v1/nodes"));
  EXPECT_THAT(log, HasSubstr("failures=1"));

  // Before the fix it sat in a 60 s cache-sync wait that no signal ended.
  ExpectPromptExitOnSigterm(*process);
}

}  // namespace
}  // namespace gpuop::op
