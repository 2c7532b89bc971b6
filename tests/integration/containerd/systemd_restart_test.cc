// containerd restarted through systemd's D-Bus API, against a real systemd: a `systemd --user`
// manager (Debian's systemd 252) that runs containerd as a unit, on its own D-Bus (Debian's
// dbus-user-session). Its Manager interface is the one the system instance serves, so what
// gpuop sends the host's systemd is what is checked here. The manager runs in a private mount
// namespace whose /run says "booted with systemd", which a user manager wants; nothing of the
// machine's /run is touched.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>

#include "containerd/containerd_restart.h"
#include "containerd/handler_installer.h"
#include "containerd/systemd_units.h"
#include "tests/fixtures/node_files.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/wait_for.h"
#include "tests/integration/background_process.h"

namespace gpuop::containerd {
namespace {

using ::testing::HasSubstr;

class SystemdRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ScratchDir("systemd");
    runtime_dir_ = dir_ + "/xdg";
    std::filesystem::create_directories(runtime_dir_);
    ::chmod(runtime_dir_.c_str(), 0700);
    socket_ = dir_ + "/containerd.sock";
    config_ = dir_ + "/etc/containerd/config.toml";
    testing::WriteFile(config_, "version = 2\nroot = \"" + dir_ + "/root\"\nstate = \"" + dir_ +
                                    "/state\"\n\n[grpc]\n  address = \"" + socket_ + "\"\n");
    const std::string units = dir_ + "/config/systemd/user/";
    // Only the bus and containerd: not the desktop sockets a user's default.target pulls in.
    testing::WriteFile(
        units + "gpuop-test.target",
        "[Unit]\nDescription=gpuop restart test\nWants=dbus.socket containerd.service\n");
    testing::WriteFile(
        units + "containerd.service",
        "[Unit]\nDescription=containerd under test\n[Service]\nExecStart=/usr/bin/containerd "
        "--config " +
            config_ + "\nStandardOutput=append:" + dir_ +
            "/containerd.log\nStandardError=" + "append:" + dir_ + "/containerd.log\n");
    // A unit whose restart job fails, as a containerd that cannot start would.
    testing::WriteFile(units + "broken.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n");
    manager_ = std::make_unique<testing::BackgroundProcess>(
        std::vector<std::string>{
            "/usr/bin/env", "XDG_RUNTIME_DIR=" + runtime_dir_,
            "XDG_CONFIG_HOME=" + dir_ + "/config", "/usr/bin/unshare", "--mount", "--propagation",
            "private", "/bin/sh", "-c",
            "mount -t tmpfs gpuop-test-run /run && mkdir -p /run/systemd/system && "
            "exec /lib/systemd/systemd --user --unit=gpuop-test.target"},
        dir_ + "/systemd.log");
    bus_ = "unix:path=" + runtime_dir_ + "/bus";
    // Up once the manager answers on its bus and containerd takes connections. The wait is
    // long because scripts/test runs the ASan suite beside the thread-safety build: on two
    // loaded cores, a sanitized run once saw containerd take over 40 s to listen.
    absl::Status up = absl::UnavailableError("not tried");
    testing::WaitFor(
        [&] {
          absl::StatusOr<std::unique_ptr<SystemdUnits>> units_api = SystemdUnits::Connect(bus_);
          if (!units_api.ok()) return false;
          up = (*units_api)->FirstLoaded({"containerd.service"}).status();
          if (up.ok()) up = WaitForSocket(socket_, std::chrono::seconds(10));
          return up.ok();
        },
        std::chrono::seconds(120), std::chrono::milliseconds(100));
    ASSERT_TRUE(up.ok()) << up << "\nsystemd.log:\n"
                         << testing::ReadWhole(dir_ + "/systemd.log") << "\ncontainerd.log:\n"
                         << testing::ReadWhole(dir_ + "/containerd.log");
  }

  void TearDown() override {
    // A user manager stops its units on SIGTERM (exit.target), containerd among them.
    manager_->Signal(SIGTERM);
    testing::WaitFor([&] { return manager_->Exited(); }, std::chrono::seconds(20),
                     std::chrono::milliseconds(50));
    if (absl::StatusOr<int> left = SocketPeerPid(socket_); left.ok()) ::kill(*left, SIGKILL);
  }

  std::string dir_, runtime_dir_, socket_, config_, bus_;
  std::unique_ptr<testing::BackgroundProcess> manager_;
  const host::HostRoot root_{"/"};
};

TEST_F(SystemdRestartTest, RestartsTheFirstLoadedUnitAndWaitsForItsJobAndSocket) {
  absl::StatusOr<int> before = SocketPeerPid(socket_);
  ASSERT_TRUE(before.ok()) << before.status();
  absl::StatusOr<ContainerdVersion> version = ParseContainerdRelease("1.6");
  ASSERT_TRUE(version.ok());
  absl::StatusOr<InstallResult> installed = InstallHandlers(
      root_,
      {.config_path = config_,
       .drop_in_path = dir_ + "/etc/containerd/conf.d/99-gpuop-kata.toml",
       .version = *version},
      {{"kata-qemu-nvidia-gpu", dir_ + "/artifacts/kata-qemu-nvidia-gpu/configuration.toml"}});
  ASSERT_TRUE(installed.ok()) << installed.status();

  // k3s.service is not there: the next unit of the list is the one restarted.
  const absl::Status restarted =
      RestartContainerd(root_, {.mode = "systemd",
                                .units = {"k3s.service", "containerd.service"},
                                .socket = socket_,
                                .systemd_bus = bus_,
                                .timeout = std::chrono::seconds(30)});
  ASSERT_TRUE(restarted.ok()) << restarted;
  absl::StatusOr<int> after = SocketPeerPid(socket_);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE(*after, *before) << "a new containerd serves the socket";
  EXPECT_NE(::kill(*before, 0), 0) << "the old one is gone";
  // The new process loaded the handler (the CRI plugin logs its runtimes as it starts).
  std::string log;
  testing::WaitFor(
      [&] {
        log = testing::ReadWhole(dir_ + "/containerd.log");
        return log.find("kata-qemu-nvidia-gpu:{Type:io.containerd.kata.v2") != std::string::npos;
      },
      std::chrono::seconds(10));
  EXPECT_THAT(log, HasSubstr("kata-qemu-nvidia-gpu:{Type:io.containerd.kata.v2"));
}

TEST_F(SystemdRestartTest, AJobThatFailsIsAnErrorNamingTheUnitAndItsResult) {
  const absl::Status restarted = RestartContainerd(root_, {.mode = "systemd",
                                                           .units = {"broken.service"},
                                                           .socket = socket_,
                                                           .systemd_bus = bus_,
                                                           .timeout = std::chrono::seconds(30)});
  ASSERT_FALSE(restarted.ok());
  EXPECT_THAT(restarted.message(), HasSubstr("broken.service with result \"failed\""));
  EXPECT_THAT(restarted.message(), HasSubstr("journalctl -u broken.service"));
}

TEST_F(SystemdRestartTest, NoLoadedUnitSaysWhichWereLookedFor) {
  const absl::Status restarted =
      RestartContainerd(root_, {.mode = "systemd",
                                .units = {"k3s.service", "rke2-server.service"},
                                .socket = socket_,
                                .systemd_bus = bus_,
                                .timeout = std::chrono::seconds(10)});
  ASSERT_EQ(restarted.code(), absl::StatusCode::kNotFound) << restarted;
  EXPECT_THAT(restarted.message(),
              HasSubstr("k3s.service (not-found), rke2-server.service (not-found)"));
}

TEST_F(SystemdRestartTest, ABusThatIsNotThereIsUnavailableNotAHang) {
  const absl::Status restarted =
      RestartContainerd(root_, {.mode = "systemd",
                                .socket = socket_,
                                .systemd_bus = "unix:path=" + dir_ + "/no-such-bus",
                                .timeout = std::chrono::seconds(5)});
  ASSERT_EQ(restarted.code(), absl::StatusCode::kUnavailable) << restarted;
  EXPECT_THAT(restarted.message(), HasSubstr("cannot reach systemd's D-Bus"));
}

}  // namespace
}  // namespace gpuop::containerd
