// The Kata handlers on a host whose containerd config is a symlink, seen from an agent whose
// host root is elsewhere (/host in a pod; a temp dir here): the link is followed inside the
// host root, the file it names is edited in place and given back byte for byte, the link stays;
// a link to nothing is left alone with an error rather than replaced by gpuop's own config.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_cat.h"

#include "containerd/handler_installer.h"
#include "tests/fixtures/node_files.h"
#include "tests/fixtures/test_files.h"

namespace gpuop::containerd {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// An admin's config with settings a three-line config of gpuop's would lose.
constexpr char kAdminsConfig[] = R"(version = 2
root = "/var/lib/containerd"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
)";

class SymlinkedConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::ScratchDir("links");
    fs::create_directories(root_ + "/etc/containerd");
    absl::StatusOr<ContainerdVersion> version = ParseContainerdRelease("1.7.27");
    ASSERT_TRUE(version.ok());
    options_.version = *version;
  }
  std::string At(const std::string& host_path) const { return root_ + host_path; }
  // What an image-based host has: the config lives elsewhere and /etc links to it, absolutely.
  void LinkConfigTo(const std::string& target) {
    fs::create_symlink(target, At("/etc/containerd/config.toml"));
  }
  std::vector<RuntimeHandler> Handlers() const {
    return {{"kata-qemu-nvidia-gpu", "/opt/kata/kata-qemu-nvidia-gpu/configuration.toml"}};
  }

  std::string root_;
  HandlerInstallOptions options_;
};

TEST_F(SymlinkedConfigTest, TheLinkedFileIsEditedInPlaceAndGivenBackWhole) {
  ASSERT_TRUE(testing::WriteText(At("/usr/share/containerd/config.toml"), kAdminsConfig).ok());
  LinkConfigTo("/usr/share/containerd/config.toml");
  const host::HostRoot root(root_);

  absl::StatusOr<InstallResult> installed = InstallHandlers(root, options_, Handlers());
  ASSERT_TRUE(installed.ok()) << installed.status();
  EXPECT_TRUE(installed->changed);
  ASSERT_TRUE(fs::is_symlink(At("/etc/containerd/config.toml")));
  EXPECT_EQ(fs::read_symlink(At("/etc/containerd/config.toml")),
            "/usr/share/containerd/config.toml");
  const std::string edited = testing::ReadWhole(At("/usr/share/containerd/config.toml"));
  EXPECT_THAT(edited, HasSubstr("SystemdCgroup = true"));
  EXPECT_THAT(edited, HasSubstr("/etc/containerd/conf.d/99-gpuop-kata.toml"));
  EXPECT_FALSE(fs::exists(At("/usr/share/containerd/config.toml") + kCreatedMarkerSuffix));
  EXPECT_TRUE(fs::exists(At("/etc/containerd/conf.d/99-gpuop-kata.toml")));

  absl::StatusOr<bool> removed = RemoveHandlers(root, options_);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(*removed);
  ASSERT_TRUE(fs::is_symlink(At("/etc/containerd/config.toml")));
  EXPECT_EQ(testing::ReadWhole(At("/usr/share/containerd/config.toml")), kAdminsConfig);
  EXPECT_FALSE(fs::exists(At("/etc/containerd/conf.d/99-gpuop-kata.toml")));
  EXPECT_FALSE(fs::exists(At("/usr/share/containerd/config.toml") + kBackupSuffix));
}

TEST_F(SymlinkedConfigTest, ALinkedConfigFolderIsFollowedForTheDropInToo) {
  ASSERT_TRUE(testing::WriteText(At("/data/containerd/config.toml"), kAdminsConfig).ok());
  fs::remove(At("/etc/containerd"));
  fs::create_symlink("/data/containerd", At("/etc/containerd"));
  const host::HostRoot root(root_);
  absl::StatusOr<InstallResult> installed = InstallHandlers(root, options_, Handlers());
  ASSERT_TRUE(installed.ok()) << installed.status();
  EXPECT_TRUE(fs::exists(At("/data/containerd/conf.d/99-gpuop-kata.toml")));
  ASSERT_TRUE(RemoveHandlers(root, options_).ok());
  EXPECT_EQ(testing::ReadWhole(At("/data/containerd/config.toml")), kAdminsConfig);
  EXPECT_FALSE(fs::exists(At("/data/containerd/conf.d/99-gpuop-kata.toml")));
}

TEST_F(SymlinkedConfigTest, ALinkToNothingIsLeftAloneWithAnError) {
  LinkConfigTo("/usr/share/containerd/config.toml");  // Not there.
  const host::HostRoot root(root_);
  absl::StatusOr<InstallResult> installed = InstallHandlers(root, options_, Handlers());
  ASSERT_FALSE(installed.ok());
  EXPECT_THAT(installed.status().message(), HasSubstr("does not exist"));
  EXPECT_THAT(installed.status().message(), HasSubstr("nothing was changed"));
  ASSERT_TRUE(fs::is_symlink(At("/etc/containerd/config.toml")));
  EXPECT_FALSE(fs::exists(At("/usr/share/containerd/config.toml")));
  EXPECT_FALSE(fs::exists(At("/etc/containerd/conf.d/99-gpuop-kata.toml")));
  EXPECT_FALSE(fs::exists(At("/etc/containerd/config.toml") + kCreatedMarkerSuffix));
  // Cleanup leaves it too: it was never gpuop's.
  EXPECT_FALSE(RemoveHandlers(root, options_).ok());
  EXPECT_TRUE(fs::is_symlink(At("/etc/containerd/config.toml")));
}

TEST_F(SymlinkedConfigTest, ALinkLoopIsLeftAloneWithAnError) {
  fs::create_symlink("/etc/containerd/b.toml", At("/etc/containerd/config.toml"));
  fs::create_symlink("/etc/containerd/config.toml", At("/etc/containerd/b.toml"));
  const host::HostRoot root(root_);
  absl::StatusOr<InstallResult> installed = InstallHandlers(root, options_, Handlers());
  ASSERT_FALSE(installed.ok());
  EXPECT_THAT(installed.status().message(), HasSubstr("symlinks"));
  EXPECT_TRUE(fs::is_symlink(At("/etc/containerd/config.toml")));
  EXPECT_FALSE(fs::exists(At("/etc/containerd/conf.d")));
}

TEST_F(SymlinkedConfigTest, WithoutAConfigGpuopsOwnIsCreatedAndRemovedAgain) {
  const host::HostRoot root(root_);
  ASSERT_TRUE(InstallHandlers(root, options_, Handlers()).ok());
  EXPECT_TRUE(fs::exists(At("/etc/containerd/config.toml") + kCreatedMarkerSuffix));
  absl::StatusOr<bool> removed = RemoveHandlers(root, options_);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_FALSE(fs::exists(fs::symlink_status(At("/etc/containerd/config.toml"))));
  EXPECT_FALSE(fs::exists(At("/etc/containerd/config.toml") + kCreatedMarkerSuffix));
}

TEST_F(SymlinkedConfigTest, AClassNamedLikeARuntimeTheNodeHasIsRefused) {
  const std::string config =
      std::string(kAdminsConfig) +
      "\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia]\n"
      "  runtime_type = \"io.containerd.runc.v2\"\n";
  ASSERT_TRUE(testing::WriteText(At("/etc/containerd/config.toml"), config).ok());
  const host::HostRoot root(root_);
  for (const char* name : {"nvidia", "runc"}) {
    absl::StatusOr<InstallResult> installed =
        InstallHandlers(root, options_, {{name, "/opt/kata/x/configuration.toml"}});
    ASSERT_FALSE(installed.ok()) << name;
    EXPECT_THAT(installed.status().message(), HasSubstr(absl::StrCat("\"", name, "\"")));
  }
  EXPECT_EQ(testing::ReadWhole(At("/etc/containerd/config.toml")), config);
  EXPECT_FALSE(fs::exists(At("/etc/containerd/conf.d")));
}

TEST_F(SymlinkedConfigTest, AnAdminsFileAtTheDropInPathIsNeitherRewrittenNorRemoved) {
  ASSERT_TRUE(testing::WriteText(At("/etc/containerd/config.toml"), kAdminsConfig).ok());
  const std::string theirs = "# the admin's own drop-in\nversion = 2\n";
  ASSERT_TRUE(testing::WriteText(At("/etc/containerd/conf.d/99-gpuop-kata.toml"), theirs).ok());
  const host::HostRoot root(root_);
  absl::StatusOr<InstallResult> installed = InstallHandlers(root, options_, Handlers());
  ASSERT_FALSE(installed.ok());
  EXPECT_THAT(installed.status().message(), HasSubstr("not written by gpuop"));
  EXPECT_FALSE(RemoveHandlers(root, options_).ok());
  EXPECT_EQ(testing::ReadWhole(At("/etc/containerd/conf.d/99-gpuop-kata.toml")), theirs);
  EXPECT_EQ(testing::ReadWhole(At("/etc/containerd/config.toml")), kAdminsConfig);

  HandlerInstallOptions over_the_config = options_;
  over_the_config.drop_in_path = over_the_config.config_path;
  EXPECT_FALSE(InstallHandlers(root, over_the_config, Handlers()).ok());
  EXPECT_EQ(testing::ReadWhole(At("/etc/containerd/config.toml")), kAdminsConfig);
}

}  // namespace
}  // namespace gpuop::containerd
