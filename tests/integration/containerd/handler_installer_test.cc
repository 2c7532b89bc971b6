// The Kata handlers' drop-in checked by the real containerd (Debian's 1.6): `config dump` shows
// each handler with its ConfigPath and keeps the user's own CRI settings, containerd starts and
// loads the handlers, a main config that does not parse is left byte for byte, and cleanup
// gives the user's file back as it was.

#include "containerd/handler_installer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>

#include "common/subprocess.h"
#include "containerd/containerd_restart.h"
#include "tests/fixtures/node_files.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/wait_for.h"
#include "tests/integration/background_process.h"

namespace gpuop::containerd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

common::ProcessResult RunTool(const std::vector<std::string>& argv) {
  absl::StatusOr<common::ProcessResult> run = common::RunProcess(argv);
  return run.ok() ? *run : common::ProcessResult{.err = std::string(run.status().message())};
}

class HandlerInstallerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ScratchDir("containerd");
    absl::StatusOr<ContainerdVersion> version =
        ParseContainerdVersion(RunTool({"containerd", "--version"}).out);
    ASSERT_TRUE(version.ok()) << version.status();
    // Absolute paths under a temp dir: containerd reads the import entry as it stands.
    options_ = {.config_path = dir_ + "/etc/containerd/config.toml",
                .drop_in_path = dir_ + "/etc/containerd/conf.d/99-gpuop-kata.toml",
                .version = *version};
  }

  std::string Dump() {
    const common::ProcessResult dump =
        RunTool({"containerd", "--config", options_.config_path, "config", "dump"});
    EXPECT_EQ(dump.exit_code, 0) << dump.err;
    return dump.out;
  }

  std::vector<RuntimeHandler> Handlers() const {
    return {{"kata-qemu-nvidia-gpu", dir_ + "/artifacts/kata-qemu-nvidia-gpu/configuration.toml"},
            {"kata-qemu-nvidia-gpu-snp",
             dir_ + "/artifacts/kata-qemu-nvidia-gpu-snp/configuration.toml"}};
  }

  std::string dir_;
  HandlerInstallOptions options_;
  const host::HostRoot root_{"/"};
};

TEST_F(HandlerInstallerTest, StockConfigsGainEachHandlerAndKeepTheirOwnSettings) {
  // Debian's shipped file (its CNI paths are what a naive drop-in loses on 1.x), and the
  // release's `config default`.
  std::vector<std::pair<std::string, std::string>> stock = {
      {"config default", RunTool({"containerd", "config", "default"}).out}};
  if (std::filesystem::exists("/etc/containerd/config.toml")) {
    stock.emplace_back("Debian's /etc/containerd/config.toml",
                       testing::ReadWhole("/etc/containerd/config.toml"));
  }
  for (const auto& [name, original] : stock) {
    SCOPED_TRACE(name);
    std::filesystem::remove_all(dir_ + "/etc");
    testing::WriteFile(options_.config_path, original);
    const std::string before = Dump();

    absl::StatusOr<InstallResult> installed = InstallHandlers(root_, options_, Handlers());
    ASSERT_TRUE(installed.ok()) << installed.status();
    EXPECT_TRUE(installed->changed);
    const std::string dump = Dump();
    for (const RuntimeHandler& handler : Handlers()) {
      EXPECT_THAT(dump, HasSubstr("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes." +
                                  handler.name + ".options]\n            ConfigPath = \"" +
                                  handler.config_path + "\""));
    }
    EXPECT_THAT(dump, HasSubstr("runtime_type = \"io.containerd.kata.v2\""));
    EXPECT_THAT(dump, HasSubstr("pod_annotations = [\"io.katacontainers.*\"]"));
    // Every line of the dump before is still there but the imports line: nothing of the
    // user's was lost.
    std::vector<std::string> lost;
    std::istringstream lines(before);
    for (std::string line; std::getline(lines, line);) {
      if (!line.starts_with("imports") && dump.find(line) == std::string::npos) {
        lost.push_back(line);
      }
    }
    EXPECT_THAT(lost, ::testing::IsEmpty()) << "lines of the dump before that are gone";
    if (original.find("/usr/lib/cni") != std::string::npos) {
      EXPECT_THAT(dump, HasSubstr("bin_dir = \"/usr/lib/cni\""));
    }
    std::cout << name << ", the kata handler in `containerd config dump`:\n"
              << dump.substr(dump.find("[plugins.\"io.containerd.grpc.v1.cri\".containerd."
                                       "runtimes.kata-qemu-nvidia-gpu]"),
                             600)
              << "\n";
    EXPECT_EQ(testing::ReadWhole(options_.config_path + kBackupSuffix), original);

    absl::StatusOr<InstallResult> again = InstallHandlers(root_, options_, Handlers());
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->changed) << "a second install with nothing new writes nothing";

    absl::StatusOr<bool> removed = RemoveHandlers(root_, options_);
    ASSERT_TRUE(removed.ok()) << removed.status();
    EXPECT_TRUE(*removed);
    EXPECT_EQ(testing::ReadWhole(options_.config_path), original);
    EXPECT_FALSE(std::filesystem::exists(options_.drop_in_path));
    EXPECT_FALSE(std::filesystem::exists(options_.config_path + kBackupSuffix));
    EXPECT_EQ(Dump(), before);
  }
}

TEST_F(HandlerInstallerTest, ContainerdStartsWithTheHandlersAndTheUsersCriSettings) {
  const std::string user = "version = 2\nroot = \"" + dir_ + "/root\"\nstate = \"" + dir_ +
                           "/state\"\n\n[grpc]\n  address = \"" + dir_ +
                           "/containerd.sock\"\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n"
                           "  sandbox_image = \"registry.example/pause:custom\"\n";
  testing::WriteFile(options_.config_path, user);
  absl::StatusOr<InstallResult> installed = InstallHandlers(root_, options_, Handlers());
  ASSERT_TRUE(installed.ok()) << installed.status();

  testing::BackgroundProcess daemon({"/usr/bin/containerd", "--config", options_.config_path},
                                    dir_ + "/containerd.log");
  // The CRI plugin logs the config it runs with once it has loaded it.
  std::string log;
  testing::WaitFor(
      [&] {
        log = testing::ReadWhole(dir_ + "/containerd.log");
        return log.find("Start cri plugin with config") != std::string::npos;
      },
      std::chrono::seconds(20));
  ASSERT_THAT(log, HasSubstr("Start cri plugin with config")) << log;
  const std::string cri = log.substr(log.find("Start cri plugin with config"));
  for (const RuntimeHandler& handler : Handlers()) {
    EXPECT_THAT(cri, HasSubstr(handler.name + ":{Type:io.containerd.kata.v2 "));
    EXPECT_THAT(cri, HasSubstr("ConfigPath:" + handler.config_path));
  }
  EXPECT_THAT(cri, HasSubstr("PrivilegedWithoutHostDevices:true"));
  EXPECT_THAT(cri, HasSubstr("SandboxImage:registry.example/pause:custom"));
  EXPECT_THAT(cri, HasSubstr("runc:{Type:io.containerd.runc.v2"));
  common::ProcessResult answered;
  testing::WaitFor(
      [&] {
        answered = RunTool({"ctr", "--address", dir_ + "/containerd.sock", "version"});
        return answered.exit_code == 0;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(100));
  EXPECT_EQ(answered.exit_code, 0) << answered.err;
  daemon.Signal(SIGTERM);
  daemon.Wait();
}

TEST_F(HandlerInstallerTest, ASignalRestartBringsBackASupervisedContainerdWithTheHandlers) {
  const std::string socket = dir_ + "/containerd.sock";
  testing::WriteFile(options_.config_path, "version = 2\nroot = \"" + dir_ + "/root\"\nstate = \"" +
                                               dir_ + "/state\"\n\n[grpc]\n  address = \"" +
                                               socket + "\"\n");
  // The test is containerd's supervisor: whenever it exits, it is started again.
  std::atomic<bool> stop = false;
  std::atomic<int> starts = 0;
  std::thread supervisor([&] {
    while (!stop) {
      testing::BackgroundProcess daemon({"/usr/bin/containerd", "--config", options_.config_path},
                                        dir_ + "/containerd-" + std::to_string(++starts) + ".log");
      // Until it exits, however long that is: the supervisor outlives every containerd.
      while (!testing::WaitFor([&] { return stop || daemon.Exited(); })) {
      }
    }
  });
  ASSERT_TRUE(WaitForSocket(socket, std::chrono::seconds(20)).ok());
  absl::StatusOr<int> before = SocketPeerPid(socket);
  ASSERT_TRUE(before.ok()) << before.status();

  absl::StatusOr<InstallResult> installed = InstallHandlers(root_, options_, Handlers());
  ASSERT_TRUE(installed.ok()) << installed.status();
  const absl::Status restarted = RestartContainerd(
      root_, {.mode = "signal", .socket = socket, .timeout = std::chrono::seconds(20)});
  EXPECT_TRUE(restarted.ok()) << restarted;
  absl::StatusOr<int> after = SocketPeerPid(socket);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE(*after, *before);
  EXPECT_EQ(starts.load(), 2);
  EXPECT_THAT(testing::ReadWhole(dir_ + "/containerd-2.log"),
              HasSubstr("kata-qemu-nvidia-gpu:{Type:io.containerd.kata.v2"));
  stop = true;
  ::kill(*after, SIGTERM);
  supervisor.join();

  // Nothing to start it again: the restart says so instead of hanging.
  const absl::Status unsupervised = RestartContainerd(
      root_, {.mode = "signal", .socket = socket, .timeout = std::chrono::seconds(1)});
  EXPECT_FALSE(unsupervised.ok());
}

TEST_F(HandlerInstallerTest, ASocketThatIsNotContainerdsIsNotSignalled) {
  // This test process listens on the socket: were it signalled, the test would die.
  const std::string socket = dir_ + "/not-containerd.sock";
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  const absl::Status restarted = RestartContainerd(
      root_, {.mode = "signal", .socket = socket, .timeout = std::chrono::seconds(1)});
  EXPECT_TRUE(absl::IsFailedPrecondition(restarted)) << restarted;
  EXPECT_THAT(restarted.message(), HasSubstr("not containerd"));
  ::close(listener);
}

TEST_F(HandlerInstallerTest, AK3sStyleRenderedConfigThatImportsItsDirLoadsTheHandlers) {
  // What k3s renders from a template that imports config.toml.d (containerd_layout.h); the
  // real containerd reads it as k3s's embedded one would.
  const std::string rendered = dir_ + "/k3s/config.toml";
  const std::string text =
      "imports = [\"" + dir_ + "/k3s/config.toml.d/*.toml\"]\nversion = 2\n\n" +
      "[plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = \"" + dir_ + "/k3s/bin\"\n";
  testing::WriteFile(rendered, text);
  HandlerInstallOptions k3s = options_;
  k3s.config_path = rendered;
  k3s.drop_in_path = dir_ + "/k3s/config.toml.d/99-gpuop-kata.toml";
  k3s.import_mode = ImportMode::kRequireImport;
  k3s.template_path = dir_ + "/k3s/config.toml.tmpl";
  absl::StatusOr<InstallResult> installed = InstallHandlers(root_, k3s, Handlers());
  ASSERT_TRUE(installed.ok()) << installed.status();
  EXPECT_EQ(testing::ReadWhole(rendered), text) << "the rendered config is k3s's";
  const common::ProcessResult dump =
      RunTool({"containerd", "--config", rendered, "config", "dump"});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_THAT(dump.out, HasSubstr("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes."
                                  "kata-qemu-nvidia-gpu.options]\n            ConfigPath = \"" +
                                  Handlers()[0].config_path + "\""));
  EXPECT_THAT(dump.out, HasSubstr("bin_dir = \"" + dir_ + "/k3s/bin\""))
      << "containerd 1.6: the drop-in repeats the rendered config's CRI settings";

  // The same rendered config without the import: refused, nothing written.
  std::filesystem::remove_all(dir_ + "/k3s");
  testing::WriteFile(rendered, "version = 2\n");
  absl::StatusOr<InstallResult> refused = InstallHandlers(root_, k3s, Handlers());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(std::filesystem::exists(k3s.drop_in_path));
}

TEST_F(HandlerInstallerTest, AMainConfigThatDoesNotParseIsLeftByteForByte) {
  const std::string broken = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"\n  x = 1\n";
  testing::WriteFile(options_.config_path, broken);
  absl::StatusOr<InstallResult> installed = InstallHandlers(root_, options_, Handlers());
  ASSERT_FALSE(installed.ok());
  EXPECT_THAT(std::string(installed.status().message()),
              HasSubstr(options_.config_path + ": not valid TOML at line 2"));
  EXPECT_THAT(std::string(installed.status().message()), HasSubstr("nothing was changed"));
  EXPECT_EQ(testing::ReadWhole(options_.config_path), broken);
  EXPECT_FALSE(std::filesystem::exists(options_.drop_in_path));
  EXPECT_FALSE(std::filesystem::exists(options_.config_path + kBackupSuffix));
}

TEST_F(HandlerInstallerTest, WithoutAMainConfigOneIsCreatedAndRemovedAgain) {
  absl::StatusOr<InstallResult> installed = InstallHandlers(root_, options_, Handlers());
  ASSERT_TRUE(installed.ok()) << installed.status();
  EXPECT_EQ(installed->plan.schema, 2);  // containerd 1.x
  EXPECT_THAT(Dump(), HasSubstr("runtimes.kata-qemu-nvidia-gpu-snp]"));
  absl::StatusOr<bool> removed = RemoveHandlers(root_, options_);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_FALSE(std::filesystem::exists(options_.config_path));
  EXPECT_FALSE(std::filesystem::exists(options_.config_path + kCreatedMarkerSuffix));
  EXPECT_FALSE(std::filesystem::exists(options_.drop_in_path));
}

}  // namespace
}  // namespace gpuop::containerd
