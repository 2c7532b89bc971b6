// The start-up the subcommands share (cli/agent_main.h): the shared flags and their refusals,
// the exit statuses, the metrics server, and the one account of --kubeconfig every subcommand
// gives.

#include "cli/agent_main.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "cli/dispatcher.h"
#include "cli/subcommands.h"
#include "tests/fixtures/test_files.h"

namespace gpuop::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class AgentMainTest : public ::testing::Test {
 protected:
  std::ostringstream out_;
  std::ostringstream err_;
  AgentMain main_{"kata-manager", "Does the test's work.", out_, err_};
};

TEST_F(AgentMainTest, TheSharedFlagsAreReadBack) {
  main_.HostRootFlag();
  main_.NodeNameFlag("this node");
  main_.KubeconfigFlag();
  main_.MetricsAddressFlag("where /metrics is");
  main_.LogFormatFlag("text or json");
  const int& resync = main_.SecondsFlag("resync", 300, "seconds", "--resync is whole seconds", 1);
  EXPECT_EQ(resync, 300);
  EXPECT_EQ(main_.Parse({"--host-root=/host", "--node-name", "node-a",
                         "--metrics-address=", "--log-format=json", "--resync=5"}),
            std::nullopt)
      << err_.str();
  EXPECT_EQ(main_.HostRoot(), "/host");
  EXPECT_EQ(main_.NodeName(), "node-a");
  EXPECT_EQ(main_.MetricsAddress(), "");
  EXPECT_EQ(resync, 5);
  EXPECT_EQ(err_.str(), "");
}

TEST_F(AgentMainTest, HelpIsAnsweredOnOutWithExitZero) {
  main_.HostRootFlag();
  main_.MetricsAddressFlag("where /metrics is");
  EXPECT_EQ(main_.Parse({"--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("usage: gpuop kata-manager [flags]\nDoes the test's work."));
  EXPECT_THAT(out_.str(), HasSubstr("--metrics-address"));
  EXPECT_THAT(out_.str(), HasSubstr("(default: :8080)"));
  EXPECT_EQ(err_.str(), "");
}

TEST_F(AgentMainTest, ABadValueIsRefusedInOneLineNamingTheCommand) {
  main_.LogFormatFlag("text or json");
  EXPECT_EQ(main_.Parse({"--log-format=yaml"}), kExitUsage);
  EXPECT_EQ(err_.str(), "kata-manager: --log-format is text or json\n");
}

TEST_F(AgentMainTest, SecondsBelowTheirMinimumOrNotWholeAreRefused) {
  for (const char* bad : {"--resync=0", "--resync=-3", "--resync=1.5", "--resync=soon"}) {
    std::ostringstream out;
    std::ostringstream err;
    AgentMain main("kata-manager", "", out, err);
    main.SecondsFlag("resync", 300, "seconds", "--resync is whole seconds, at least 1", 1);
    EXPECT_EQ(main.Parse({bad}), kExitUsage) << bad;
    EXPECT_EQ(err.str(), "kata-manager: --resync is whole seconds, at least 1\n") << bad;
  }
}

TEST_F(AgentMainTest, AnUnknownFlagGetsTheUsageToo) {
  main_.HostRootFlag();
  EXPECT_EQ(main_.Parse({"--hostroot=/"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("unknown flag --hostroot"));
  EXPECT_THAT(err_.str(), HasSubstr("usage: gpuop kata-manager"));
}

TEST_F(AgentMainTest, ProblemsAfterParsingAreOneLineWithTheirExitStatus) {
  EXPECT_EQ(main_.UsageError("--containerd-restart is auto, systemd, signal or none"), kExitUsage);
  EXPECT_EQ(main_.Failure("port 8080 is taken"), 1);
  EXPECT_EQ(err_.str(),
            "kata-manager: --containerd-restart is auto, systemd, signal or none\n"
            "kata-manager: port 8080 is taken\n");
}

TEST_F(AgentMainTest, TheMetricsServerRunsOnlyWhereAskedFor) {
  main_.MetricsAddressFlag("where /metrics is");
  ASSERT_EQ(main_.Parse({"--metrics-address=127.0.0.1:0"}), std::nullopt);
  auto registry = std::make_shared<prometheus::Registry>();
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> once =
      main_.ServeMetrics(registry, /*serve=*/false);
  ASSERT_TRUE(once.ok()) << once.status();
  EXPECT_EQ(*once, nullptr);
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> served = main_.ServeMetrics(registry);
  ASSERT_TRUE(served.ok()) << served.status();
  ASSERT_NE(*served, nullptr);
  EXPECT_GT((*served)->Port(), 0);
}

TEST_F(AgentMainTest, NoApiIsAnErrorToTheCallerNotAGuess) {
  main_.NodeNameFlag("this node");
  main_.KubeconfigFlag();
  const std::string missing = testing::ScratchDir("agent-main") + "/no-kubeconfig";
  ASSERT_EQ(main_.Parse({"--node-name=node-a", "--kubeconfig", missing}), std::nullopt);
  absl::StatusOr<std::string> label = main_.NodeLabel("nvidia.com/cc.capable");
  EXPECT_TRUE(absl::IsNotFound(label.status())) << label.status();
  EXPECT_THAT(std::string(label.status().message()), HasSubstr(missing));
  EXPECT_FALSE(main_.StillDeployedHere("kata-manager").ok());
  EXPECT_FALSE(main_.ReportAs("gpuop.io/kata-manager").ok());
}

// Four subcommands once told it backwards (in-cluster first); kube::LoadRestConfig tries
// --kubeconfig, $KUBECONFIG, the pod's ServiceAccount, ~/.kube/config in that order.
TEST(Subcommands, EveryKubeconfigFlagSaysTheOrderTheClientTriesThem) {
  int with_kubeconfig = 0;
  for (const Subcommand& subcommand : AllSubcommands()) {
    std::vector<std::vector<std::string>> helps = {{"--help"}};
    if (subcommand.name == "validator") helps = {{"vfio-pci", "--help"}, {"cc-manager", "--help"}};
    for (const std::vector<std::string>& args : helps) {
      std::ostringstream out;
      std::ostringstream err;
      EXPECT_EQ(subcommand.run(args, out, err), 0) << subcommand.name << " " << err.str();
      const std::string usage = out.str();
      if (usage.find("--kubeconfig") == std::string::npos) continue;
      ++with_kubeconfig;
      EXPECT_THAT(usage, HasSubstr("(default: $KUBECONFIG, then in-cluster, then ~/.kube/config)"))
          << subcommand.name;
      EXPECT_THAT(usage, Not(HasSubstr("in-cluster, then $KUBECONFIG"))) << subcommand.name;
    }
  }
  // cc-manager, device-plugin, kata-manager, operator, status, uninstall-cleanup, vfio-manager
  // and the validator's two steps that read the node.
  EXPECT_EQ(with_kubeconfig, 9);
}

}  // namespace
}  // namespace gpuop::cli
