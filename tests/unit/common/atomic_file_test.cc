#include "common/atomic_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/fixtures/node_files.h"
#include "tests/fixtures/test_files.h"

namespace gpuop::common {
namespace {

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::ScratchDir("atomic-file"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(AtomicFileTest, ReplacesTheContentsAndLeavesNoTempFileBehind) {
  const auto path = dir_ / "workload-type";
  ASSERT_TRUE(WriteFileAtomically(path.string(), "container\n").ok());
  ASSERT_TRUE(WriteFileAtomically(path.string(), "vm-passthrough\n", 0600).ok());
  EXPECT_EQ(testing::ReadWhole(path), "vm-passthrough\n");
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(AtomicFileTest, AFolderThatDoesNotExistIsAnErrorAndWritesNothing) {
  const auto path = dir_ / "missing" / "file";
  const absl::Status status = WriteFileAtomically(path.string(), "x");
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_NE(status.message().find(path.string()), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(AtomicFileTest, TheCreatingFoldersVariantMakesTheFoldersAndWritesTheFile) {
  const std::filesystem::path target = dir_ / "a" / "b" / "file";
  ASSERT_TRUE(WriteFileAtomicallyCreatingFolders(target.string(), "contents", 0600).ok());
  EXPECT_EQ(testing::ReadWhole(target), "contents");
  EXPECT_EQ(std::filesystem::status(target).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // A folder that cannot be made (a file is in its way) is an error, and nothing is written.
  testing::WriteFile(dir_ / "blocker", "x");
  const absl::Status blocked =
      WriteFileAtomicallyCreatingFolders((dir_ / "blocker" / "file").string(), "y");
  EXPECT_FALSE(blocked.ok());
  EXPECT_NE(std::string(blocked.message()).find("create the folder"), std::string::npos) << blocked;
  EXPECT_EQ(testing::ReadWhole(dir_ / "blocker"), "x");
}

}  // namespace
}  // namespace gpuop::common
