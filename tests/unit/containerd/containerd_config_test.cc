// containerd's main config edited only in its `imports`, the handlers' drop-in as each
// containerd release needs it, and `containerd --version` read. tests/integration/containerd
// checks the same files with the real containerd.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "containerd/config_file.h"
#include "containerd/containerd_version.h"
#include "containerd/runtime_drop_in.h"

namespace gpuop::containerd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kDropIn[] = "/etc/containerd/conf.d/99-gpuop-kata.toml";

// Debian 12's /etc/containerd/config.toml, as the containerd package ships it.
constexpr char kDebianStock[] = R"(version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
)";

TEST(WithImport, AddsTheImportsLineBeforeTheFirstTableAndNothingElse) {
  absl::StatusOr<std::string> edited = WithImport(kDebianStock, kDropIn);
  ASSERT_TRUE(edited.ok()) << edited.status();
  EXPECT_EQ(*edited,
            "version = 2\n\n"
            "# Added by gpuop kata-manager (its containerd drop-in); removed on cleanup.\n"
            "imports = [\"/etc/containerd/conf.d/99-gpuop-kata.toml\"]\n\n"
            "[plugins]\n"
            "  [plugins.\"io.containerd.grpc.v1.cri\"]\n"
            "    [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
            "      bin_dir = \"/usr/lib/cni\"\n"
            "      conf_dir = \"/etc/cni/net.d\"\n"
            "  [plugins.\"io.containerd.internal.v1.opt\"]\n"
            "    path = \"/var/lib/containerd/opt\"\n");
  absl::StatusOr<std::string> again = WithImport(*edited, kDropIn);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *edited);
  absl::StatusOr<std::string> removed = WithoutImport(*edited, kDropIn);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, kDebianStock);
}

TEST(WithImport, ExtendsTheUsersArrayInPlaceKeepingCommentsAndLayoutAround) {
  const std::string user =
      "# my containerd\n"
      "version = 2\n"
      "imports = [ # mine\n"
      "  \"/etc/containerd/a].toml\",  # a ']' in a string\n"
      "  '/etc/containerd/b.toml',\n"
      "]\n"
      "root = \"/var/lib/containerd\"  # imports = [\"not this\"]\n"
      "\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"pause:custom\"\n";
  absl::StatusOr<std::string> edited = WithImport(user, kDropIn);
  ASSERT_TRUE(edited.ok()) << edited.status();
  EXPECT_EQ(*edited,
            "# my containerd\n"
            "version = 2\n"
            "imports = [\"/etc/containerd/a].toml\", \"/etc/containerd/b.toml\", "
            "\"/etc/containerd/conf.d/99-gpuop-kata.toml\"]\n"
            "root = \"/var/lib/containerd\"  # imports = [\"not this\"]\n"
            "\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"pause:custom\"\n");
  absl::StatusOr<MainConfig> parsed = ParseMainConfig(*edited);
  ASSERT_TRUE(parsed.ok());
  EXPECT_THAT(parsed->imports,
              ElementsAre("/etc/containerd/a].toml", "/etc/containerd/b.toml", kDropIn));
  // Cleanup leaves the user's two entries (the array is rewritten on one line).
  absl::StatusOr<std::string> removed = WithoutImport(*edited, kDropIn);
  ASSERT_TRUE(removed.ok()) << removed.status();
  absl::StatusOr<MainConfig> after = ParseMainConfig(*removed);
  ASSERT_TRUE(after.ok());
  EXPECT_THAT(after->imports, ElementsAre("/etc/containerd/a].toml", "/etc/containerd/b.toml"));
  EXPECT_THAT(*removed, HasSubstr("root = \"/var/lib/containerd\"  # imports"));
}

TEST(WithImport, AGlobThatCoversTheDropInNeedsNoEdit) {
  const std::string user = "version = 3\nimports = ['/etc/containerd/conf.d/*.toml']\n";
  absl::StatusOr<std::string> edited = WithImport(user, kDropIn);
  ASSERT_TRUE(edited.ok());
  EXPECT_EQ(*edited, user);
  EXPECT_FALSE(ImportsCover({"/etc/containerd/conf.d/*.toml"}, "/etc/containerd/other/x.toml"));
}

TEST(WithImport, AFileWithOnlyTopLevelKeysGetsTheLineAtTheEnd) {
  absl::StatusOr<std::string> edited = WithImport("version = 2", kDropIn);
  ASSERT_TRUE(edited.ok()) << edited.status();
  EXPECT_EQ(*edited,
            "version = 2\n"
            "# Added by gpuop kata-manager (its containerd drop-in); removed on cleanup.\n"
            "imports = [\"/etc/containerd/conf.d/99-gpuop-kata.toml\"]\n");
}

TEST(ParseMainConfig, SaysWhereTheTomlIsBrokenAndRefusesOddVersionsAndImports) {
  absl::StatusOr<MainConfig> broken = ParseMainConfig("version = 2\n[plugins\nx = 1\n");
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr("not valid TOML at line 2"));
  EXPECT_FALSE(WithImport("version = 2\n[plugins\n", kDropIn).ok());
  EXPECT_THAT(std::string(ParseMainConfig("version = 7").status().message()),
              HasSubstr("`version` must be 1, 2 or 3"));
  // A float, and one past int64's range: refused, not converted (the fuzzer's finding).
  for (const char* version : {"version = 2.0", "version = 3.3e23", "version = 'two'"}) {
    EXPECT_THAT(std::string(ParseMainConfig(version).status().message()),
                HasSubstr("`version` must be 1, 2 or 3"))
        << version;
  }
  EXPECT_THAT(std::string(ParseMainConfig("imports = 'x'").status().message()),
              HasSubstr("`imports` must be an array"));
  EXPECT_THAT(std::string(ParseMainConfig("imports = [1]").status().message()),
              HasSubstr("strings only"));
  absl::StatusOr<MainConfig> empty = ParseMainConfig("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->schema, 1);
}

TEST(ParseContainerdVersion, ReadsDebianDockerAndUpstreamBuilds) {
  struct Row {
    std::string output;
    int major, minor;
  };
  for (const Row& row : std::vector<Row>{
           {"containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3\n", 1, 6},
           {"containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da\n", 1, 7},
           {"containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fb\n", 2,
            1}}) {
    absl::StatusOr<ContainerdVersion> version = ParseContainerdVersion(row.output);
    ASSERT_TRUE(version.ok()) << row.output;
    EXPECT_EQ(version->major, row.major) << row.output;
    EXPECT_EQ(version->minor, row.minor) << row.output;
  }
  EXPECT_FALSE(ParseContainerdVersion("bash: containerd: command not found").ok());
  EXPECT_EQ(ParseContainerdRelease("1.7")->minor, 7);
  EXPECT_EQ(ParseContainerdRelease("v2.1.4")->major, 2);
  // What kubelet reports on k3s and rke2 nodes, after "containerd://".
  EXPECT_EQ(ParseContainerdRelease("2.0.4-k3s2")->major, 2);
  EXPECT_EQ(ParseContainerdRelease("1.7.23-k3s2")->minor, 7);
  EXPECT_FALSE(ParseContainerdRelease("latest").ok());
  EXPECT_FALSE(ParseContainerdVersion("containerd x y.z").ok());
}

const std::vector<RuntimeHandler> kHandlers = {
    {"kata-qemu-nvidia-gpu",
     "/opt/nvidia-gpu-operator/artifacts/runtimeclasses/"
     "kata-qemu-nvidia-gpu/configuration-nvidia-gpu-qemu.toml"}};

TEST(RenderDropIn, OnContainerd16ItRepeatsTheUsersCriTableAndLeavesCdiOut) {
  absl::StatusOr<MainConfig> main = ParseMainConfig(kDebianStock);
  ASSERT_TRUE(main.ok());
  absl::StatusOr<DropInPlan> plan = PlanDropIn(*main, true, {1, 6});
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->carries_user_cri_table);
  EXPECT_FALSE(plan->cdi);
  const std::string text = RenderDropIn(*plan, *main, kHandlers);
  absl::StatusOr<MainConfig> drop_in = ParseMainConfig(text);
  ASSERT_TRUE(drop_in.ok()) << text;
  EXPECT_EQ(drop_in->schema, 2);
  const toml::table& cri = *drop_in->document["plugins"]["io.containerd.grpc.v1.cri"].as_table();
  EXPECT_EQ(cri["cni"]["bin_dir"].value_or(std::string()), "/usr/lib/cni");
  const toml::node_view<const toml::node> kata =
      cri["containerd"]["runtimes"]["kata-qemu-nvidia-gpu"];
  EXPECT_EQ(kata["runtime_type"].value_or(std::string()), "io.containerd.kata.v2");
  EXPECT_EQ(kata["privileged_without_host_devices"].value_or(false), true);
  EXPECT_EQ(kata["pod_annotations"][0].value_or(std::string()), "io.katacontainers.*");
  EXPECT_EQ(kata["options"]["ConfigPath"].value_or(std::string()), kHandlers[0].config_path);
  EXPECT_FALSE(cri.contains("enable_cdi"));
  // Naming any runtime drops 1.x's built-in runc, so the drop-in spells it out.
  EXPECT_EQ(cri["containerd"]["runtimes"]["runc"]["runtime_type"].value_or(std::string()),
            "io.containerd.runc.v2");
}

TEST(RenderDropIn, OnContainerd16TheUsersOwnRuncIsCarriedAsItIs) {
  absl::StatusOr<MainConfig> main = ParseMainConfig(
      "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
      "  SystemdCgroup = true\n");
  ASSERT_TRUE(main.ok());
  absl::StatusOr<DropInPlan> plan = PlanDropIn(*main, true, {1, 6});
  ASSERT_TRUE(plan.ok());
  absl::StatusOr<MainConfig> drop_in = ParseMainConfig(RenderDropIn(*plan, *main, kHandlers));
  ASSERT_TRUE(drop_in.ok());
  const auto runc =
      drop_in->document["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["runc"];
  EXPECT_EQ(runc["options"]["SystemdCgroup"].value_or(false), true);
  EXPECT_FALSE(runc["runtime_type"]) << "nothing added to a runc the user wrote";
}

TEST(RenderDropIn, OnContainerd2ItHoldsOnlyWhatGpuopAddsWithCdiOn) {
  absl::StatusOr<MainConfig> main =
      ParseMainConfig("version = 3\n[plugins.'io.containerd.cri.v1.runtime']\n  x = 1\n");
  ASSERT_TRUE(main.ok());
  absl::StatusOr<DropInPlan> plan = PlanDropIn(*main, true, {2, 1});
  ASSERT_TRUE(plan.ok());
  const std::string text = RenderDropIn(*plan, *main, kHandlers);
  absl::StatusOr<MainConfig> drop_in = ParseMainConfig(text);
  ASSERT_TRUE(drop_in.ok()) << text;
  EXPECT_EQ(drop_in->schema, 3);
  const toml::table& cri = *drop_in->document["plugins"]["io.containerd.cri.v1.runtime"].as_table();
  EXPECT_FALSE(cri.contains("x"));
  EXPECT_EQ(cri["enable_cdi"].value_or(false), true);
  EXPECT_EQ(cri["cdi_spec_dirs"][1].value_or(std::string()), "/var/run/cdi");
  EXPECT_TRUE(cri["containerd"]["runtimes"]["kata-qemu-nvidia-gpu"].is_table());
  EXPECT_FALSE(cri["containerd"]["runtimes"]["runc"]) << "2.x merges; its runc stays its own";
}

TEST(PlanDropIn, RefusesSchemaOneAndASchemaTheReleaseCannotRead) {
  absl::StatusOr<MainConfig> old = ParseMainConfig("[plugins.cri]\n");
  ASSERT_TRUE(old.ok());
  EXPECT_THAT(std::string(PlanDropIn(*old, true, {1, 6}).status().message()),
              HasSubstr("containerd config migrate"));
  absl::StatusOr<MainConfig> v3 = ParseMainConfig("version = 3\n");
  ASSERT_TRUE(v3.ok());
  EXPECT_FALSE(PlanDropIn(*v3, true, {1, 7}).ok());
  // No main config: the release's own schema.
  EXPECT_EQ(PlanDropIn(*old, false, {2, 0})->schema, 3);
  EXPECT_EQ(PlanDropIn(*old, false, {1, 7})->cri_plugin, "io.containerd.grpc.v1.cri");
}

}  // namespace
}  // namespace gpuop::containerd
