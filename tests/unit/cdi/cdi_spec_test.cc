#include "cdi/cdi_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "cdi/spec_dir.h"
#include "tests/fixtures/node_files.h"
#include "tests/fixtures/test_files.h"

namespace gpuop::cdi {
namespace {

using ::testing::HasSubstr;

Spec TwoGroups() {
  return Spec{
      .kind = "nvidia.com/pgpu",
      .devices = {
          {.name = "38", .device_nodes = {{.path = "/dev/vfio/vfio"}, {.path = "/dev/vfio/38"}}},
          {.name = "41",
           .device_nodes = {{.path = "/dev/vfio/vfio"},
                            {.path = "/dev/vfio/41", .type = "c", .major = 241, .minor = 2}}}}};
}

TEST(CdiSpec, RendersTheVersionKindAndEachDevicesNodesInOrder) {
  EXPECT_EQ(RenderSpec(TwoGroups()),
            "# Written by gpuop device-plugin: one device per passthrough GPU, named by its "
            "kubelet\n# device ID. Rewritten whenever the GPUs change; edits are lost.\n"
            "---\n"
            "cdiVersion: \"0.5.0\"\n"
            "kind: \"nvidia.com/pgpu\"\n"
            "devices:\n"
            "- name: \"38\"\n"
            "  containerEdits:\n"
            "    deviceNodes:\n"
            "    - path: \"/dev/vfio/vfio\"\n"
            "    - path: \"/dev/vfio/38\"\n"
            "- name: \"41\"\n"
            "  containerEdits:\n"
            "    deviceNodes:\n"
            "    - path: \"/dev/vfio/vfio\"\n"
            "    - path: \"/dev/vfio/41\"\n"
            "      type: \"c\"\n"
            "      major: 241\n"
            "      minor: 2\n");
}

TEST(CdiSpec, FileNameIsVendorDashClass) {
  EXPECT_EQ(SpecFileName("nvidia.com/pgpu"), "nvidia.com-pgpu.yaml");
  EXPECT_EQ(SpecFileName("nvidia.com/GH100_H100_SXM5_80GB"),
            "nvidia.com-GH100_H100_SXM5_80GB.yaml");
}

TEST(CdiSpec, AcceptsWhatTheUpstreamLibraryAccepts) {
  EXPECT_TRUE(ValidateSpec(TwoGroups()).ok()) << ValidateSpec(TwoGroups());
  Spec model = TwoGroups();
  model.kind = "nvidia.com/GH100_H100_SXM5_80GB";
  model.devices[0].name = "vfio3";
  model.devices[1].name = "0000:41:00.0";  // ':' and '.' are allowed inside a name.
  EXPECT_TRUE(ValidateSpec(model).ok()) << ValidateSpec(model);
}

struct Rejected {
  std::string what;
  std::function<void(Spec&)> edit;
  std::string error;
};

TEST(CdiSpec, RefusesWhatTheUpstreamLibraryRefusesAndNamesTheField) {
  const std::vector<Rejected> table = {
      {"kind without class", [](Spec& s) { s.kind = "nvidia.com"; }, "kind: \"nvidia.com\""},
      {"kind with two slashes", [](Spec& s) { s.kind = "nvidia.com/p/gpu"; }, "kind:"},
      {"class starting with a digit", [](Spec& s) { s.kind = "nvidia.com/1gpu"; }, "kind:"},
      {"unknown version", [](Spec& s) { s.cdi_version = "0.9.0"; }, "cdiVersion: \"0.9.0\""},
      {"digit name needs 0.5.0", [](Spec& s) { s.cdi_version = "0.4.0"; },
       "too old for this spec; it needs 0.5.0"},
      {"dotted class needs 0.6.0", [](Spec& s) { s.kind = "nvidia.com/p.gpu"; }, "it needs 0.6.0"},
      {"no devices", [](Spec& s) { s.devices.clear(); }, "devices: a spec needs one or more"},
      {"empty name", [](Spec& s) { s.devices[1].name = ""; }, "devices[1].name"},
      {"name ending in a dash", [](Spec& s) { s.devices[0].name = "38-"; }, "devices[0].name"},
      {"name with a slash", [](Spec& s) { s.devices[0].name = "a/b"; }, "devices[0].name"},
      {"same name twice", [](Spec& s) { s.devices[1].name = "38"; }, "appears twice"},
      {"no edits", [](Spec& s) { s.devices[0].device_nodes.clear(); }, "has no edits"},
      {"relative path", [](Spec& s) { s.devices[1].device_nodes[1].path = "dev/vfio/41"; },
       "devices[1].containerEdits.deviceNodes[1].path"},
      {"bad type", [](Spec& s) { s.devices[1].device_nodes[1].type = "x"; }, ".type: \"x\""},
      {"bad permissions", [](Spec& s) { s.devices[0].device_nodes[0].permissions = "rwx"; },
       ".permissions: \"rwx\""},
  };
  for (const Rejected& row : table) {
    Spec spec = TwoGroups();
    row.edit(spec);
    const absl::Status status = ValidateSpec(spec);
    EXPECT_FALSE(status.ok()) << row.what;
    EXPECT_THAT(std::string(status.message()), HasSubstr(row.error)) << row.what;
  }
}

TEST(CdiSpecDir, WritesOnlyWhenTheSpecChangesAndNeverAnInvalidOne) {
  const std::string dir = testing::ScratchDir("cdi") + "/var/run/cdi";
  const std::string path = dir + "/nvidia.com-pgpu.yaml";

  absl::StatusOr<bool> first = WriteSpecIfChanged(dir, TwoGroups());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first);
  EXPECT_EQ(testing::ReadWhole(path), RenderSpec(TwoGroups()));
  const auto written_at = std::filesystem::last_write_time(path);

  absl::StatusOr<bool> again = WriteSpecIfChanged(dir, TwoGroups());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(std::filesystem::last_write_time(path), written_at);

  Spec broken = TwoGroups();
  broken.devices[1].name = "38";
  absl::StatusOr<bool> refused = WriteSpecIfChanged(dir, broken);
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("CDI spec for nvidia.com/pgpu not written"));
  EXPECT_EQ(testing::ReadWhole(path), RenderSpec(TwoGroups()));

  Spec one = TwoGroups();
  one.devices.pop_back();
  ASSERT_TRUE(WriteSpecIfChanged(dir, one).ok());
  EXPECT_EQ(testing::ReadWhole(path), RenderSpec(one));
  // Nothing but the spec is left in the directory: no temp files.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);

  EXPECT_TRUE(RemoveSpec(dir, "nvidia.com/pgpu").ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(RemoveSpec(dir, "nvidia.com/pgpu").ok());
}

TEST(CdiSpecDir, ListsTheKindsOfTheSpecsGpuopWroteAndNoOthers) {
  const std::string root = testing::ScratchDir("cdi");
  EXPECT_THAT(*KindsWrittenIn(root + "/var/run/cdi"), ::testing::IsEmpty());  // Not there yet.

  const std::string dir = root + "/var/run/cdi";
  ASSERT_TRUE(WriteSpecIfChanged(dir, TwoGroups()).ok());
  Spec other = TwoGroups();
  other.kind = "nvidia.com/GH100_H100_SXM5_80GB";
  ASSERT_TRUE(WriteSpecIfChanged(dir, other).ok());
  // The container toolkit's spec, without our header; one of ours renamed by hand; not a spec.
  testing::WriteFile(dir + "/nvidia.com-gpu.yaml",
                     "cdiVersion: \"0.5.0\"\nkind: \"nvidia.com/gpu\"\n");
  std::filesystem::copy_file(dir + "/nvidia.com-pgpu.yaml", dir + "/backup.yaml");
  testing::WriteFile(dir + "/nvidia.com-pgpu.yaml.tmp", RenderSpec(TwoGroups()));

  absl::StatusOr<std::vector<std::string>> kinds = KindsWrittenIn(dir);
  ASSERT_TRUE(kinds.ok()) << kinds.status();
  EXPECT_THAT(*kinds, ::testing::UnorderedElementsAre("nvidia.com/pgpu",
                                                      "nvidia.com/GH100_H100_SXM5_80GB"));
}

}  // namespace
}  // namespace gpuop::cdi
