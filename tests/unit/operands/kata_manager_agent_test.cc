// The Kata manager's life on a node, in-process: a host root in a temp folder, a Node of the
// test's own (labels, pull secrets, what kubelet says of containerd) and no registry. A class
// whose pull fails before any network (its pull secret cannot be read) keeps the handler of an
// earlier install, which is how these tests get gpuop's handlers into containerd's config; the
// pulls themselves are the integration tests' (tests/integration/operands/kata_manager_test.cc).

#include "operands/kata_manager/kata_manager_agent.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "absl/synchronization/mutex.h"

#include "common/metrics_server.h"
#include "operands/kata_manager/artifact_record.h"
#include "operands/kata_manager/containerd_target.h"
#include "prometheus/text_serializer.h"
#include "tests/fixtures/http_get.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/wait_for.h"

namespace gpuop::operands {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kDeployLabel[] = "nvidia.com/gpu.deploy.kata-manager";
constexpr char kStockConfig[] = "version = 2\n";
constexpr char kDropIn[] = "/etc/containerd/conf.d/99-gpuop-kata.toml";

// The Node as the API would show it; thread-safe, as a running agent reads it from its thread.
class FakeNode final : public KataNode {
 public:
  void SetLabels(std::map<std::string, std::string> labels) {
    absl::MutexLock lock(&mu_);
    labels_ = std::move(labels);
  }
  void SetLabelsUnreadable() {
    absl::MutexLock lock(&mu_);
    labels_ = absl::UnavailableError("the API server is away");
  }
  void SetRuntimeVersion(std::string version) {
    absl::MutexLock lock(&mu_);
    runtime_version_ = std::move(version);
  }
  std::vector<KataPassReport> Reports() {
    absl::MutexLock lock(&mu_);
    return reports_;
  }

  absl::StatusOr<std::map<std::string, std::string>> NodeLabels() override {
    absl::MutexLock lock(&mu_);
    return labels_;
  }
  absl::StatusOr<std::string> ContainerRuntimeVersion() override {
    absl::MutexLock lock(&mu_);
    return runtime_version_;
  }
  absl::StatusOr<std::string> PullSecret(const std::string& name) override {
    return absl::NotFoundError("secrets \"" + name + "\" not found");
  }
  void Report(const KataPassReport& report) override {
    absl::MutexLock lock(&mu_);
    reports_.push_back(report);
  }

 private:
  absl::Mutex mu_;
  absl::StatusOr<std::map<std::string, std::string>> labels_ ABSL_GUARDED_BY(mu_) =
      std::map<std::string, std::string>{{kDeployLabel, "true"}};
  absl::StatusOr<std::string> runtime_version_ ABSL_GUARDED_BY(mu_) =
      absl::NotFoundError("the node reports no container runtime yet");
  std::vector<KataPassReport> reports_ ABSL_GUARDED_BY(mu_);
};

class KataAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ScratchDir("kata-agent");
    root_ = dir_ + "/host";
    testing::WriteFile(At("/etc/containerd/config.toml"), kStockConfig);
  }

  std::string At(const std::string& host_path) const { return root_ + host_path; }
  std::string ConfigFile() const { return dir_ + "/config/config.yaml"; }
  void WriteConfig(const std::string& yaml) { testing::WriteFile(ConfigFile(), yaml); }
  // A config with one class "kata-x" whose pull fails before any network: its pull secret
  // cannot be read (no API, or the fake's NotFound).
  void WriteConfigWithOneClass(const std::string& node_selector = "{}") {
    WriteConfig(
        "artifactsDir: /opt/kata-artifacts\nruntimeClasses:\n- name: kata-x\n  nodeSelector: " +
        node_selector + "\n  artifacts:\n    url: registry.example/kata:v1\n    pullSecret: ngc\n");
  }
  // What an earlier pass installed for kata-x: the record that keeps its handler.
  void RecordEarlierInstall() {
    testing::WriteFile(
        At(std::string("/opt/kata-artifacts/kata-x/") + kArtifactRecordFile),
        R"({"url":"registry.example/kata:v1","digest":"sha256:aa",)"
        R"("configPath":"/opt/kata-artifacts/kata-x/configuration.toml","files":[]})");
  }

  KataAgentOptions Options(const std::string& restart = "none") const {
    const host::HostRoot root(root_);
    absl::StatusOr<ContainerdTarget> target =
        ResolveContainerd(root, {.restart = restart}, {.major = 1, .minor = 7});
    EXPECT_TRUE(target.ok()) << target.status();
    return {.config_file = ConfigFile(),
            .root = root,
            .containerd = target.ok() ? *target : ContainerdTarget{},
            .validations_dir = "/run/nvidia/validations",
            .once = true,
            .node_name = "node-a"};
  }
  std::string ReadyFile() const { return At("/run/nvidia/validations/.kata-manager-ctr-ready"); }
  std::string Log() const { return log_text_.str(); }

  std::string dir_;
  std::string root_;
  FakeNode node_;
  std::ostringstream log_text_;
  common::Logger log_{log_text_, common::LogFormat::kText};
};

TEST(KataManagerDeployedHere, ItsDeployLabelTrueOrPausedKeepsItAnythingElseDoesNot) {
  EXPECT_TRUE(KataManagerDeployedHere({{kDeployLabel, "true"}}));
  EXPECT_TRUE(KataManagerDeployedHere({{kDeployLabel, "paused-for-cc-mode-change"}}));
  EXPECT_FALSE(KataManagerDeployedHere({{kDeployLabel, "false"}}));
  EXPECT_FALSE(KataManagerDeployedHere({{kDeployLabel, ""}}));
  EXPECT_FALSE(KataManagerDeployedHere({{"nvidia.com/gpu.deploy.vfio-manager", "true"}}));
  EXPECT_FALSE(KataManagerDeployedHere({}));
}

TEST_F(KataAgentTest, TheFlagsPathsReplaceTheLayoutsAndK0sIsLeftToRestartItsOwn) {
  const host::HostRoot root(root_);
  absl::StatusOr<ContainerdTarget> plain =
      ResolveContainerd(root, {.config = "/x/config.toml", .socket = "/x/c.sock"}, {1, 7});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->layout.distribution, containerd::Distribution::kContainerd);
  EXPECT_EQ(plain->install.config_path, "/x/config.toml");
  EXPECT_EQ(plain->install.drop_in_path, kDropIn);
  EXPECT_EQ(plain->restart.mode, "auto");
  EXPECT_EQ(plain->restart.socket, "/x/c.sock");
  EXPECT_EQ(plain->install.version.minor, 7);

  absl::StatusOr<ContainerdTarget> k0s = ResolveContainerd(root, {.distribution = "k0s"}, {1, 7});
  ASSERT_TRUE(k0s.ok()) << k0s.status();
  EXPECT_EQ(k0s->restart.mode, "none");
  absl::StatusOr<ContainerdTarget> told =
      ResolveContainerd(root, {.distribution = "k0s", .restart = "signal"}, {1, 7});
  ASSERT_TRUE(told.ok()) << told.status();
  EXPECT_EQ(told->restart.mode, "signal");  // Said outright, it is done.

  absl::StatusOr<ContainerdTarget> unknown =
      ResolveContainerd(root, {.distribution = "k8s"}, {1, 7});
  EXPECT_TRUE(absl::IsInvalidArgument(unknown.status())) << unknown.status();
}

TEST_F(KataAgentTest, TheContainerdReleaseIsTheFlagsElseWhatKubeletReports) {
  const host::HostRoot root(root_);
  absl::StatusOr<containerd::ContainerdVersion> given =
      DetectContainerd(root, "1.6.20~ds1", &node_);
  ASSERT_TRUE(given.ok()) << given.status();
  EXPECT_EQ(given->minor, 6);

  node_.SetRuntimeVersion("containerd://2.1.4");
  absl::StatusOr<containerd::ContainerdVersion> reported = DetectContainerd(root, "", &node_);
  ASSERT_TRUE(reported.ok()) << reported.status();
  EXPECT_EQ(reported->major, 2);
  EXPECT_EQ(reported->minor, 1);

  // Another runtime, and no containerd binary on this host: the flag is the way out.
  node_.SetRuntimeVersion("cri-o://1.30.0");
  absl::StatusOr<containerd::ContainerdVersion> none = DetectContainerd(root, "", &node_);
  EXPECT_TRUE(absl::IsNotFound(none.status())) << none.status();
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("--containerd-version"));
  EXPECT_TRUE(absl::IsNotFound(DetectContainerd(root, "", nullptr).status()));
}

TEST_F(KataAgentTest, AnEmptyConfigAppliesReportsAndWritesTheReadyFile) {
  WriteConfig("runtimeClasses: []\n");
  EXPECT_EQ(KataManagerAgent(Options(), &node_, log_).Run(common::StopSignal()), 0) << Log();
  ASSERT_EQ(node_.Reports().size(), 1u);
  EXPECT_TRUE(node_.Reports()[0].Ok());
  EXPECT_TRUE(std::filesystem::exists(ReadyFile()));
  EXPECT_THAT(Log(), HasSubstr("msg=\"config read\" runtime_classes=0"));
  EXPECT_EQ(testing::ReadWhole(At("/etc/containerd/config.toml")), kStockConfig);
}

TEST_F(KataAgentTest, AConfigThatCannotBeReadChangesNothingAndSaysWhich) {
  EXPECT_EQ(KataManagerAgent(Options(), &node_, log_).Run(common::StopSignal()), 1);
  EXPECT_THAT(Log(), HasSubstr("cannot read the kata manager config; nothing changed"));
  EXPECT_THAT(Log(), HasSubstr(ConfigFile()));
  EXPECT_TRUE(node_.Reports().empty());
  EXPECT_FALSE(std::filesystem::exists(ReadyFile()));
}

TEST_F(KataAgentTest, WithoutTheNodesLabelsNoPassRuns) {
  WriteConfig("runtimeClasses: []\n");
  node_.SetLabelsUnreadable();
  EXPECT_EQ(KataManagerAgent(Options(), &node_, log_).Run(common::StopSignal()), 1);
  EXPECT_THAT(Log(), HasSubstr("cannot read the node's labels; will retry"));
  EXPECT_TRUE(node_.Reports().empty());
  EXPECT_FALSE(std::filesystem::exists(ReadyFile()));
}

TEST_F(KataAgentTest, AClassWhoseSelectorTheNodeMissesIsSkippedNotFailed) {
  WriteConfigWithOneClass("{\"nvidia.com/cc.ready.state\": \"true\"}");
  EXPECT_EQ(KataManagerAgent(Options(), &node_, log_).Run(common::StopSignal()), 0) << Log();
  ASSERT_EQ(node_.Reports().size(), 1u);
  EXPECT_THAT(node_.Reports()[0].skipped, ::testing::ElementsAre("kata-x"));
}

TEST_F(KataAgentTest, WithoutTheApiEveryClassAppliesAndHasNoPullSecret) {
  WriteConfigWithOneClass("{\"nvidia.com/cc.ready.state\": \"true\"}");
  EXPECT_EQ(KataManagerAgent(Options(), nullptr, log_).Run(common::StopSignal()), 1);
  EXPECT_THAT(Log(), HasSubstr("no Kubernetes API to read it from"));
  EXPECT_FALSE(std::filesystem::exists(ReadyFile()));
}

TEST_F(KataAgentTest, AFailedPullKeepsTheHandlerOfAnEarlierInstall) {
  WriteConfigWithOneClass();
  RecordEarlierInstall();
  EXPECT_EQ(KataManagerAgent(Options(), &node_, log_).Run(common::StopSignal()), 1);
  ASSERT_EQ(node_.Reports().size(), 1u);
  const KataPassReport report = node_.Reports()[0];
  EXPECT_THAT(report.failures.at("kata-x"), HasSubstr("pull secret ngc"));
  EXPECT_TRUE(report.containerd_changed);
  EXPECT_THAT(testing::ReadWhole(At(kDropIn)),
              HasSubstr("/opt/kata-artifacts/kata-x/configuration.toml"));
  EXPECT_THAT(testing::ReadWhole(At("/etc/containerd/config.toml")), HasSubstr(kDropIn));
  EXPECT_FALSE(std::filesystem::exists(ReadyFile()));  // Not everything applied.
}

TEST_F(KataAgentTest, AContainerdThatCannotBeRestartedFailsThePassAndSaysWhy) {
  WriteConfigWithOneClass();
  RecordEarlierInstall();
  EXPECT_EQ(KataManagerAgent(Options("signal"), &node_, log_).Run(common::StopSignal()), 1);
  ASSERT_EQ(node_.Reports().size(), 1u);
  EXPECT_THAT(node_.Reports()[0].containerd_error, HasSubstr("containerd restart: "));
  EXPECT_THAT(Log(), HasSubstr("containerd restart failed"));
}

// A stop on a node that no longer wants the agent gives containerd's config back; a stop on one
// that still does (a rollout) or may (paused, or the API cannot say) leaves the handlers.
TEST_F(KataAgentTest, AtStopTheHandlersGoOnlyWhenTheNodeNoLongerWantsTheAgent) {
  WriteConfigWithOneClass();
  RecordEarlierInstall();
  const auto install = [&] {
    KataManagerAgent(Options(), &node_, log_).Run(common::StopSignal());
    ASSERT_TRUE(std::filesystem::exists(At(kDropIn))) << Log();
  };
  // Stopped before it starts: the pass is cut short at once, and only the cleanup decides.
  const auto stop_agent = [&] {
    KataAgentOptions options = Options();
    options.once = false;
    common::StopSignal stop;
    stop.Stop();
    return KataManagerAgent(options, &node_, log_).Run(stop);
  };

  install();
  node_.SetLabels({{kDeployLabel, "paused-for-cc-mode-change"}});
  EXPECT_EQ(stop_agent(), 0);
  EXPECT_TRUE(std::filesystem::exists(At(kDropIn)));
  node_.SetLabelsUnreadable();
  EXPECT_EQ(stop_agent(), 0);
  EXPECT_TRUE(std::filesystem::exists(At(kDropIn)));
  EXPECT_THAT(Log(), HasSubstr("containerd's handlers are left as they are"));
  EXPECT_THAT(Log(), Not(HasSubstr("no longer deployed")));

  node_.SetLabels({{kDeployLabel, "false"}});
  EXPECT_EQ(stop_agent(), 0);
  EXPECT_THAT(Log(), HasSubstr("msg=\"no longer deployed on this node: cleaning up\" node=node-a"));
  EXPECT_THAT(Log(), HasSubstr("Kata handlers taken out of containerd's config"));
  EXPECT_FALSE(std::filesystem::exists(At(kDropIn)));
  EXPECT_EQ(testing::ReadWhole(At("/etc/containerd/config.toml")), kStockConfig);
  EXPECT_THAT(Log(), HasSubstr("kata-manager stopped"));
}

TEST_F(KataAgentTest, ARunningAgentPassesAgainAsSoonAsItsConfigChanges) {
  WriteConfig("runtimeClasses: []\n");
  prometheus::Registry registry;
  KataManagerMetrics metrics(registry);
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> server =
      common::MetricsServer::Start("127.0.0.1:0", std::make_shared<prometheus::Registry>());
  ASSERT_TRUE(server.ok()) << server.status();
  KataAgentOptions options = Options();
  options.once = false;  // The resync stays at 300 s: only the config's change can be the cause.
  KataManagerAgent agent(options, &node_, log_, &metrics, server->get());
  common::StopSignal stop;
  int exit_code = -1;
  std::thread running([&] { exit_code = agent.Run(stop); });

  const auto readiness = [&] { return testing::HttpGet((*server)->Port(), "/readyz"); };
  EXPECT_TRUE(testing::WaitFor([&] { return node_.Reports().size() == 1; }));
  EXPECT_TRUE(testing::WaitFor([&] { return readiness().find(" 200 ") != std::string::npos; }));
  WriteConfigWithOneClass();  // Its pull fails: the next pass is not ready.
  EXPECT_TRUE(testing::WaitFor([&] { return node_.Reports().size() == 2; }));
  EXPECT_TRUE(testing::WaitFor(
      [&] { return readiness().find("the last pass failed") != std::string::npos; }));
  stop.Stop();
  running.join();
  EXPECT_EQ(exit_code, 0) << Log();
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text, HasSubstr("gpuop_kata_manager_passes_total{result=\"ok\"} 1"));
  EXPECT_THAT(text, HasSubstr("gpuop_kata_manager_passes_total{result=\"failed\"} 1"));
  EXPECT_THAT(Log(), HasSubstr("msg=\"config read\" runtime_classes=1"));
  EXPECT_THAT(Log(), HasSubstr("kata-manager stopped"));
}

}  // namespace
}  // namespace gpuop::operands
