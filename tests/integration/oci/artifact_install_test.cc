// The Kata artifacts' install folder, <artifactsDir>/<class>, is replaced whole on an update:
// only ever a folder gpuop's own install record marks as its own. An admin's folder of that
// name (their own Kata install; a host folder an artifactsDir happens to reach) is left as it
// is, and so is a link there; leftover staging folders go only when gpuop marked them.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "oci/registry_client.h"
#include "operands/kata_manager/artifact_installer.h"
#include "tests/fixtures/node_files.h"
#include "tests/fixtures/status_matchers.h"
#include "tests/fixtures/test_files.h"
#include "tests/integration/oci/test_registry.h"

namespace gpuop::operands {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ArtifactInstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ScratchDir("install");
    fs::create_directories(dir_ + "/push");
    fs::create_directories(dir_ + "/artifacts");
    ASSERT_THAT(testing::WriteText(dir_ + "/push/configuration-qemu.toml",
                                   "[hypervisor.qemu]\nkernel = \"/x/vmlinux\"\n"),
                testing::IsOk());
    ASSERT_THAT(testing::WriteText(dir_ + "/push/vmlinux", testing::RandomBytes(4096, 7)),
                testing::IsOk());
    registry_ =
        std::make_unique<testing::TestRegistry>(dir_ + "/registry", testing::TestRegistryOptions{});
    std::string error;
    ASSERT_TRUE(registry_->Start(&error)) << error;
    const common::ProcessResult pushed = registry_->Push(dir_ + "/push", "kata/artifacts", "v1",
                                                         {"configuration-qemu.toml", "vmlinux"});
    ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
  }

  absl::StatusOr<InstalledArtifact> Install(const std::string& name) {
    RuntimeClassArtifacts runtime_class{.name = name,
                                        .url = registry_->Host() + "/kata/artifacts:v1"};
    absl::StatusOr<oci::Reference> ref = oci::ParseReference(runtime_class.url);
    if (!ref.ok()) return ref.status();
    runtime_class.artifacts = *ref;
    oci::RegistryClient client(registry_->Host(), {.plain_http = true});
    return InstallArtifact(
        client, runtime_class,
        {.artifacts_dir = dir_ + "/artifacts", .host_artifacts_dir = "/opt/artifacts"}, log_);
  }

  std::string dir_;
  std::unique_ptr<testing::TestRegistry> registry_;
  std::ostringstream log_text_;
  common::Logger log_{log_text_, common::LogFormat::kText};
};

TEST_F(ArtifactInstallTest, AnAdminsFolderOfTheClassesNameIsLeftAsItIs) {
  ASSERT_TRUE(testing::WriteText(dir_ + "/artifacts/kata/their-own-kata.toml", "admin's").ok());
  absl::StatusOr<InstalledArtifact> installed = Install("kata");
  ASSERT_FALSE(installed.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(installed.status())) << installed.status();
  EXPECT_THAT(installed.status().message(), HasSubstr("gpuop did not install it"));
  EXPECT_EQ(testing::ReadWhole(dir_ + "/artifacts/kata/their-own-kata.toml"), "admin's");
  EXPECT_FALSE(fs::exists(dir_ + "/artifacts/kata/.gpuop-artifact.json"));
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_ + "/artifacts")) {
    EXPECT_EQ(entry.path().filename(), "kata") << "left behind: " << entry.path();
  }
}

TEST_F(ArtifactInstallTest, ALinkInThePlaceOfTheFolderIsLeftAsItIs) {
  ASSERT_TRUE(testing::WriteText(dir_ + "/elsewhere/keep.txt", "keep").ok());
  fs::create_symlink(dir_ + "/elsewhere", dir_ + "/artifacts/kata");
  absl::StatusOr<InstalledArtifact> installed = Install("kata");
  ASSERT_FALSE(installed.ok());
  EXPECT_TRUE(fs::is_symlink(dir_ + "/artifacts/kata"));
  EXPECT_EQ(testing::ReadWhole(dir_ + "/elsewhere/keep.txt"), "keep");
}

TEST_F(ArtifactInstallTest, GpuopsOwnInstallIsReplacedWholeAndMarkedLeftoversGo) {
  absl::StatusOr<InstalledArtifact> first = Install("kata-qemu");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(fs::exists(dir_ + "/artifacts/kata-qemu/.gpuop-artifact.json"));
  EXPECT_EQ(first->config_path, "/opt/artifacts/kata-qemu/configuration-qemu.toml");
  // A new artifact under the same tag: the folder is gpuop's, so it is swapped.
  ASSERT_TRUE(testing::WriteText(dir_ + "/push/vmlinux", testing::RandomBytes(4096, 8)).ok());
  ASSERT_EQ(
      registry_
          ->Push(dir_ + "/push", "kata/artifacts", "v1", {"configuration-qemu.toml", "vmlinux"})
          .exit_code,
      0);
  // What a killed run leaves: a staging folder it marked, and one that only looks like one.
  ASSERT_TRUE(
      testing::WriteText(dir_ + "/artifacts/.kata-qemu.staging-killed/.gpuop-staging", "").ok());
  ASSERT_TRUE(testing::WriteText(dir_ + "/artifacts/.kata-qemu.staging-admins/keep", "").ok());
  absl::StatusOr<InstalledArtifact> second = Install("kata-qemu");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->downloaded);
  EXPECT_NE(second->digest, first->digest);
  EXPECT_EQ(testing::ReadWhole(dir_ + "/artifacts/kata-qemu/vmlinux"),
            testing::RandomBytes(4096, 8));
  EXPECT_FALSE(fs::exists(dir_ + "/artifacts/kata-qemu/.gpuop-staging"));
  EXPECT_FALSE(fs::exists(dir_ + "/artifacts/.kata-qemu.staging-killed"));
  EXPECT_TRUE(fs::exists(dir_ + "/artifacts/.kata-qemu.staging-admins/keep"));
  EXPECT_EQ(fs::status(dir_ + "/artifacts/kata-qemu").permissions() & fs::perms::others_read,
            fs::perms::others_read);
}

TEST_F(ArtifactInstallTest, ARecordNamingFilesOutsideItsFolderIsNotTrusted) {
  ASSERT_TRUE(Install("kata").ok());
  // A record edited to name a file outside its folder no longer proves the folder gpuop's.
  const std::string record_path = dir_ + "/artifacts/kata/.gpuop-artifact.json";
  std::string record = testing::ReadWhole(record_path);
  const size_t at = record.find("\"vmlinux\"");
  ASSERT_NE(at, std::string::npos);
  record.replace(at, 9, "\"../../vmlinux\"");
  ASSERT_TRUE(testing::WriteText(record_path, record).ok());
  EXPECT_FALSE(ParseArtifactRecord(record).has_value());
  absl::StatusOr<InstalledArtifact> again = Install("kata");
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.status().message(), HasSubstr("gpuop did not install it"));
  EXPECT_EQ(testing::ReadWhole(record_path), record);
  EXPECT_TRUE(fs::exists(dir_ + "/artifacts/kata/vmlinux"));
}

}  // namespace
}  // namespace gpuop::operands
