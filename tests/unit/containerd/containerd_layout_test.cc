// Which containerd a host runs (plain, k3s, rke2, k0s, microk8s) told from the files each keeps,
// where gpuop's drop-in goes for each, and the two install modes where the distribution owns
// the main config: k3s/rke2 (the rendered config must already import the drop-in dir; it is
// never written) and k0s (its drop-in dir is loaded by k0s; nothing else is touched).

#include "containerd/containerd_layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/files.h"
#include "containerd/handler_installer.h"
#include "tests/fixtures/test_files.h"

namespace gpuop::containerd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kK3sDir[] = "/var/lib/rancher/k3s/agent/etc/containerd";

class ContainerdLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::ScratchDir("layout"); }
  // Paths are the host's, under the test's folder as its root.
  void Write(const std::string& host_path, const std::string& text) {
    testing::WriteFile(dir_ + host_path, text);
  }
  std::string Read(const std::string& host_path) {
    absl::StatusOr<std::string> text = common::ReadFile(dir_ + host_path);
    return text.ok() ? *text : "<missing>";
  }
  bool Exists(const std::string& host_path) { return std::filesystem::exists(dir_ + host_path); }
  host::HostRoot Root() const { return host::HostRoot(dir_); }

  HandlerInstallOptions InstallOptionsFor(const ContainerdLayout& layout,
                                          ContainerdVersion version) {
    return {.config_path = layout.config_path,
            .drop_in_path = layout.drop_in_path,
            .version = version,
            .import_mode = layout.import_mode,
            .template_path = layout.template_path,
            .rendered_path = layout.rendered_path};
  }

  std::string dir_;
  const std::vector<RuntimeHandler> handlers_ = {
      {.name = "kata-qemu-nvidia-gpu",
       .config_path = "/opt/nvidia/kata/kata-qemu-nvidia-gpu/configuration.toml"}};
};

TEST_F(ContainerdLayoutTest, EachDistributionIsToldByTheFilesItKeeps) {
  EXPECT_EQ(DetectDistribution(Root()), Distribution::kContainerd);
  Write("/var/snap/microk8s/current/args/containerd-template.toml", "version = 2\n");
  EXPECT_EQ(DetectDistribution(Root()), Distribution::kMicroK8s);
  Write(std::string(kK3sDir) + "/config.toml", "version = 2\n");
  EXPECT_EQ(DetectDistribution(Root()), Distribution::kK3s);
  Write("/var/lib/rancher/rke2/agent/etc/containerd/config.toml", "version = 2\n");
  EXPECT_EQ(DetectDistribution(Root()), Distribution::kRke2);
  std::filesystem::create_directories(dir_ + "/etc/k0s/containerd.d");
  EXPECT_EQ(DetectDistribution(Root()), Distribution::kK0s);
}

TEST_F(ContainerdLayoutTest, LeftoverFilesLoseToTheContainerdWhoseSocketIsThere) {
  std::filesystem::create_directories(dir_ + "/etc/k0s/containerd.d");  // k0s was removed
  Write(std::string(kK3sDir) + "/config.toml", "version = 2\n");
  Write("/run/containerd/containerd.sock", "");  // plain containerd runs
  EXPECT_EQ(DetectDistribution(Root()), Distribution::kContainerd);
  Write("/run/k3s/containerd/containerd.sock", "");  // now k3s runs
  EXPECT_EQ(DetectDistribution(Root()), Distribution::kK3s);
}

TEST_F(ContainerdLayoutTest, NamesRoundTripAndAnUnknownOneIsRefused) {
  for (Distribution distribution :
       {Distribution::kContainerd, Distribution::kK3s, Distribution::kRke2, Distribution::kK0s,
        Distribution::kMicroK8s}) {
    absl::StatusOr<Distribution> parsed = ParseDistribution(DistributionName(distribution));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, distribution);
  }
  absl::StatusOr<Distribution> docker = ParseDistribution("docker");
  EXPECT_EQ(docker.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(docker.status().message(), HasSubstr("k3s, rke2, k0s or microk8s"));
}

TEST_F(ContainerdLayoutTest, EveryLayoutSaysWhereTheDropInGoesAndWhichUnitRestarts) {
  const ContainerdVersion v17{.major = 1, .minor = 7};
  absl::StatusOr<ContainerdLayout> plain = LayoutFor(Root(), Distribution::kContainerd, v17);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->import_mode, ImportMode::kAddImport);
  EXPECT_EQ(plain->config_path, "/etc/containerd/config.toml");
  EXPECT_EQ(plain->drop_in_path, "/etc/containerd/conf.d/99-gpuop-kata.toml");
  EXPECT_THAT(plain->units, ElementsAre("containerd.service"));
  EXPECT_EQ(plain->socket, "/run/containerd/containerd.sock");

  absl::StatusOr<ContainerdLayout> rke2 = LayoutFor(Root(), Distribution::kRke2, v17);
  ASSERT_TRUE(rke2.ok());
  EXPECT_EQ(rke2->import_mode, ImportMode::kRequireImport);
  EXPECT_THAT(rke2->units, ElementsAre("rke2-server.service", "rke2-agent.service"));
  EXPECT_EQ(rke2->socket, "/run/k3s/containerd/containerd.sock");

  absl::StatusOr<ContainerdLayout> k0s = LayoutFor(Root(), Distribution::kK0s, v17);
  ASSERT_TRUE(k0s.ok());
  EXPECT_EQ(k0s->import_mode, ImportMode::kLoadedByDistribution);
  EXPECT_EQ(k0s->drop_in_path, "/etc/k0s/containerd.d/99-gpuop-kata.toml");
  EXPECT_TRUE(k0s->units.empty()) << "k0s restarts its containerd itself";
  EXPECT_EQ(k0s->socket, "/run/k0s/containerd.sock");

  absl::StatusOr<ContainerdLayout> microk8s = LayoutFor(Root(), Distribution::kMicroK8s, v17);
  ASSERT_TRUE(microk8s.ok());
  EXPECT_EQ(microk8s->import_mode, ImportMode::kAddImport);
  EXPECT_EQ(microk8s->config_path, "/var/snap/microk8s/current/args/containerd-template.toml");
  EXPECT_THAT(microk8s->units, ElementsAre("snap.microk8s.daemon-containerd.service"));
}

TEST_F(ContainerdLayoutTest, K3sDropInDirFollowsTheRenderedConfigsSchemaThenTheRelease) {
  const std::string dir = kK3sDir;
  // Not rendered yet: containerd 2.x means the v3 template.
  absl::StatusOr<ContainerdLayout> before =
      LayoutFor(Root(), Distribution::kK3s, {.major = 2, .minor = 0});
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->drop_in_path, dir + "/config-v3.toml.d/99-gpuop-kata.toml");
  EXPECT_EQ(before->template_path, dir + "/config-v3.toml.tmpl");
  // A rendered version-2 config wins over the release.
  Write(dir + "/config.toml", "version = 2\n");
  absl::StatusOr<ContainerdLayout> v2 =
      LayoutFor(Root(), Distribution::kK3s, {.major = 2, .minor = 0});
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->drop_in_path, dir + "/config.toml.d/99-gpuop-kata.toml");
  EXPECT_EQ(v2->template_path, dir + "/config.toml.tmpl");
  EXPECT_EQ(v2->config_path, dir + "/config.toml");
  EXPECT_THAT(v2->units, ElementsAre("k3s.service", "k3s-agent.service"));
}

TEST_F(ContainerdLayoutTest, K3sWithoutTheImportIsRefusedWithWhatToAddAndNothingWritten) {
  const std::string rendered = std::string(kK3sDir) + "/config.toml";
  const std::string text = "version = 3\n\n[plugins.\"io.containerd.cri.v1.images\"]\n";
  Write(rendered, text);
  const ContainerdVersion v20{.major = 2, .minor = 0};
  absl::StatusOr<ContainerdLayout> layout = LayoutFor(Root(), Distribution::kK3s, v20);
  ASSERT_TRUE(layout.ok());
  absl::StatusOr<InstallResult> installed =
      InstallHandlers(Root(), InstallOptionsFor(*layout, v20), handlers_);
  ASSERT_EQ(installed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(installed.status().message(),
              HasSubstr("Put imports = [\"" + std::string(kK3sDir) +
                        "/config-v3.toml.d/*.toml\"] at the top of " + std::string(kK3sDir) +
                        "/config-v3.toml.tmpl"));
  EXPECT_EQ(Read(rendered), text);
  EXPECT_FALSE(Exists(layout->drop_in_path));
  EXPECT_FALSE(Exists(rendered + ".gpuop.bak"));
}

TEST_F(ContainerdLayoutTest, K3sWithTheImportGetsTheDropInAndItsRenderedConfigStaysAsItIs) {
  const std::string dir = kK3sDir;
  const std::string rendered = dir + "/config.toml";
  const std::string text = "imports = [\"" + dir +
                           "/config-v3.toml.d/*.toml\"]\nversion = 3\n\n"
                           "[plugins.\"io.containerd.cri.v1.images\"]\n  snapshotter = "
                           "\"overlayfs\"\n";
  Write(rendered, text);
  const ContainerdVersion v20{.major = 2, .minor = 0};
  absl::StatusOr<ContainerdLayout> layout = LayoutFor(Root(), Distribution::kK3s, v20);
  ASSERT_TRUE(layout.ok());
  const HandlerInstallOptions options = InstallOptionsFor(*layout, v20);
  absl::StatusOr<InstallResult> installed = InstallHandlers(Root(), options, handlers_);
  ASSERT_TRUE(installed.ok()) << installed.status();
  EXPECT_TRUE(installed->changed);
  EXPECT_EQ(Read(rendered), text);
  EXPECT_FALSE(Exists(rendered + ".gpuop.bak"));
  const std::string drop_in = Read(layout->drop_in_path);
  EXPECT_THAT(drop_in, HasSubstr("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes."
                                 "kata-qemu-nvidia-gpu]"));
  EXPECT_THAT(drop_in, HasSubstr("version = 3"));

  absl::StatusOr<InstallResult> again = InstallHandlers(Root(), options, handlers_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->changed) << "the same drop-in is not rewritten";

  absl::StatusOr<bool> removed = RemoveHandlers(Root(), options);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(Exists(layout->drop_in_path));
  EXPECT_EQ(Read(rendered), text) << "cleanup leaves the rendered config alone too";
}

TEST_F(ContainerdLayoutTest, K3sNotRenderedYetIsRefusedWithoutWritingAnything) {
  const ContainerdVersion v17{.major = 1, .minor = 7};
  absl::StatusOr<ContainerdLayout> layout = LayoutFor(Root(), Distribution::kK3s, v17);
  ASSERT_TRUE(layout.ok());
  absl::StatusOr<InstallResult> installed =
      InstallHandlers(Root(), InstallOptionsFor(*layout, v17), handlers_);
  ASSERT_EQ(installed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(installed.status().message(), HasSubstr("does not exist yet"));
  EXPECT_FALSE(Exists(layout->config_path));
  EXPECT_FALSE(Exists(layout->drop_in_path));
}

TEST_F(ContainerdLayoutTest, K0sGetsOnlyItsDropInHoldingTheRuntimesAlone) {
  const std::string user_config = "# k0s_managed=true\nversion = 2\n";
  Write("/etc/k0s/containerd.toml", user_config);
  const ContainerdVersion v17{.major = 1, .minor = 7};
  absl::StatusOr<ContainerdLayout> layout = LayoutFor(Root(), Distribution::kK0s, v17);
  ASSERT_TRUE(layout.ok());
  const HandlerInstallOptions options = InstallOptionsFor(*layout, v17);
  absl::StatusOr<InstallResult> installed = InstallHandlers(Root(), options, handlers_);
  ASSERT_TRUE(installed.ok()) << installed.status();
  EXPECT_TRUE(installed->changed);
  const std::string drop_in = Read(layout->drop_in_path);
  EXPECT_THAT(drop_in, HasSubstr("runtimes.kata-qemu-nvidia-gpu]"));
  EXPECT_THAT(drop_in, Not(HasSubstr("runtimes.runc")));
  EXPECT_EQ(Read("/etc/k0s/containerd.toml"), user_config);

  absl::StatusOr<bool> removed = RemoveHandlers(Root(), options);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(Exists(layout->drop_in_path));
  EXPECT_EQ(Read("/etc/k0s/containerd.toml"), user_config);
}

TEST_F(ContainerdLayoutTest, MicroK8sTemplateGainsOnlyTheImportAndABackup) {
  const std::string template_path = "/var/snap/microk8s/current/args/containerd-template.toml";
  const std::string text =
      "version = 2\n\n[plugins]\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n    "
      "sandbox_image = \"registry.k8s.io/pause:3.7\"\n    [plugins.\"io.containerd.grpc.v1.cri\"."
      "containerd]\n      snapshotter = \"${SNAPSHOTTER}\"\n";
  Write(template_path, text);
  // What the snap rendered from it when its containerd last started.
  Write("/var/snap/microk8s/current/args/containerd.toml",
        "version = 2\n\n[plugins]\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n    "
        "sandbox_image = \"registry.k8s.io/pause:3.7\"\n    [plugins.\"io.containerd.grpc.v1.cri\"."
        "containerd]\n      snapshotter = \"overlayfs\"\n");
  const ContainerdVersion v16{.major = 1, .minor = 6};
  absl::StatusOr<ContainerdLayout> layout = LayoutFor(Root(), Distribution::kMicroK8s, v16);
  ASSERT_TRUE(layout.ok());
  absl::StatusOr<InstallResult> installed =
      InstallHandlers(Root(), InstallOptionsFor(*layout, v16), handlers_);
  ASSERT_TRUE(installed.ok()) << installed.status();
  EXPECT_THAT(
      Read(template_path),
      HasSubstr("imports = [\"/var/snap/microk8s/current/args/conf.d/99-gpuop-kata.toml\"]"));
  EXPECT_THAT(Read(template_path), HasSubstr("snapshotter = \"${SNAPSHOTTER}\""));
  EXPECT_EQ(Read(template_path + ".gpuop.bak"), text);
  // containerd 1.6 lets the drop-in's CRI table replace the main one whole, so it is carried,
  // from the rendered file: the snap fills in ${SNAPSHOTTER} in the template only.
  EXPECT_THAT(Read(layout->drop_in_path), HasSubstr("snapshotter = 'overlayfs'"));
  EXPECT_THAT(Read(layout->drop_in_path), Not(HasSubstr("${SNAPSHOTTER}")));
}

}  // namespace
}  // namespace gpuop::containerd
