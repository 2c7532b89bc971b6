// HostRoot::Resolve follows a host's symlinks as the host does, inside the root: an absolute
// link means the host's /, ".." stops at it, and loops and links to nothing are told apart.

#include "host/host_root.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/fixtures/node_files.h"
#include "tests/fixtures/test_files.h"

namespace gpuop::host {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class HostRootResolveTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = testing::ScratchDir("host-root"); }
  void Link(const std::string& host_path, const std::string& target) {
    fs::create_directories(fs::path(root_ + host_path).parent_path());
    fs::create_symlink(target, root_ + host_path);
  }
  std::string root_;
};

TEST_F(HostRootResolveTest, AnAbsoluteLinkIsTheHostsNotTheAgents) {
  ASSERT_TRUE(testing::WriteText(root_ + "/usr/share/containerd/config.toml", "x").ok());
  Link("/etc/containerd/config.toml", "/usr/share/containerd/config.toml");
  absl::StatusOr<HostRoot::Resolved> resolved =
      HostRoot(root_).Resolve("/etc/containerd/config.toml");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->host_path, "/usr/share/containerd/config.toml");
  EXPECT_TRUE(resolved->through_link);
  EXPECT_TRUE(resolved->exists);
}

TEST_F(HostRootResolveTest, LinkedFoldersOnTheWayAndRelativeLinksResolve) {
  ASSERT_TRUE(testing::WriteText(root_ + "/data/etc-containerd/config.toml", "x").ok());
  Link("/etc/containerd", "/data/etc-containerd");
  Link("/etc/cfg", "containerd/config.toml");
  absl::StatusOr<HostRoot::Resolved> through_folder =
      HostRoot(root_).Resolve("/etc/containerd/config.toml");
  ASSERT_TRUE(through_folder.ok()) << through_folder.status();
  EXPECT_EQ(through_folder->host_path, "/data/etc-containerd/config.toml");
  absl::StatusOr<HostRoot::Resolved> relative = HostRoot(root_).Resolve("/etc/cfg");
  ASSERT_TRUE(relative.ok()) << relative.status();
  EXPECT_EQ(relative->host_path, "/data/etc-containerd/config.toml");
}

TEST_F(HostRootResolveTest, DotDotStopsAtTheHostsRoot) {
  Link("/etc/escape", "../../../../../../tmp/x");
  absl::StatusOr<HostRoot::Resolved> resolved = HostRoot(root_).Resolve("/etc/escape");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->host_path, "/tmp/x");
  EXPECT_FALSE(resolved->exists);
  absl::StatusOr<HostRoot::Resolved> plain = HostRoot(root_).Resolve("/../../etc//./x/");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->host_path, "/etc/x");
  EXPECT_FALSE(plain->through_link);
}

TEST_F(HostRootResolveTest, AMissingPathResolvesToWhereItWouldBe) {
  absl::StatusOr<HostRoot::Resolved> resolved = HostRoot(root_).Resolve("/etc/containerd/x.toml");
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->host_path, "/etc/containerd/x.toml");
  EXPECT_FALSE(resolved->exists);
  EXPECT_FALSE(resolved->through_link);
}

TEST_F(HostRootResolveTest, ADanglingLinkIsSaidToLeadNowhere) {
  Link("/etc/containerd/config.toml", "/nowhere/config.toml");
  absl::StatusOr<HostRoot::Resolved> resolved =
      HostRoot(root_).Resolve("/etc/containerd/config.toml");
  ASSERT_TRUE(resolved.ok());
  EXPECT_TRUE(resolved->through_link);
  EXPECT_FALSE(resolved->exists);
  EXPECT_EQ(resolved->host_path, "/nowhere/config.toml");
}

TEST_F(HostRootResolveTest, LoopsAndFilesUsedAsFoldersAreErrors) {
  Link("/a", "/b");
  Link("/b", "/a");
  absl::StatusOr<HostRoot::Resolved> loop = HostRoot(root_).Resolve("/a/x");
  EXPECT_FALSE(loop.ok());
  EXPECT_THAT(loop.status().message(), HasSubstr("symlinks"));
  ASSERT_TRUE(testing::WriteText(root_ + "/etc/file", "x").ok());
  absl::StatusOr<HostRoot::Resolved> not_folder = HostRoot(root_).Resolve("/etc/file/x");
  EXPECT_FALSE(not_folder.ok());
  EXPECT_THAT(not_folder.status().message(), HasSubstr("not a directory"));
}

TEST_F(HostRootResolveTest, OnTheHostsOwnRootItIsTheKernelsResolution) {
  absl::StatusOr<HostRoot::Resolved> resolved = HostRoot("/").Resolve(root_);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->host_path, fs::canonical(root_).string());
}

}  // namespace
}  // namespace gpuop::host
