// The kata manager's config as the operator renders it (JSON, which is YAML too), the rewrite
// of a Kata configuration to the installed files, and node selectors.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "operands/kata_manager/artifact_installer.h"
#include "operands/kata_manager/kata_manager_config.h"

namespace gpuop::operands {
namespace {

using ::testing::HasSubstr;

TEST(ParseKataManagerConfig, ReadsTheOperatorsJsonAndNvidiasYaml) {
  absl::StatusOr<KataManagerConfig> json_form = ParseKataManagerConfig(
      R"({"artifactsDir":"/opt/nvidia-gpu-operator/artifacts/runtimeclasses","runtimeClasses":[)"
      R"({"name":"kata-qemu-nvidia-gpu","nodeSelector":{},"artifacts":{"url":)"
      R"("nvcr.io/nvidia/cloud-native/kata-gpu-artifacts:ubuntu22.04-535.54.03","pullSecret":""}},)"
      R"({"name":"kata-qemu-nvidia-gpu-snp","nodeSelector":{"nvidia.com/cc.capable":"true"},)"
      R"("artifacts":{"url":"nvcr.io/nvidia/cloud-native/kata-gpu-artifacts:ubuntu22.04-535.86.10-snp",)"
      R"("pullSecret":"ngc"}}]})");
  ASSERT_TRUE(json_form.ok()) << json_form.status();
  ASSERT_EQ(json_form->runtime_classes.size(), 2u);
  const RuntimeClassArtifacts& snp = json_form->runtime_classes[1];
  EXPECT_EQ(snp.name, "kata-qemu-nvidia-gpu-snp");
  EXPECT_EQ(snp.node_selector.at("nvidia.com/cc.capable"), "true");
  EXPECT_EQ(snp.artifacts.registry, "nvcr.io");
  EXPECT_EQ(snp.artifacts.tag, "ubuntu22.04-535.86.10-snp");
  EXPECT_EQ(snp.pull_secret, "ngc");

  absl::StatusOr<KataManagerConfig> yaml_form = ParseKataManagerConfig(
      "runtimeClasses:\n- name: kata-qemu-nvidia-gpu\n  artifacts:\n"
      "    url: registry.example/kata:v1\n");
  ASSERT_TRUE(yaml_form.ok()) << yaml_form.status();
  EXPECT_EQ(yaml_form->artifacts_dir, api::kDefaultKataArtifactsDir);
  EXPECT_TRUE(yaml_form->runtime_classes[0].node_selector.empty());
  EXPECT_TRUE(ParseKataManagerConfig("")->runtime_classes.empty());
}

TEST(ParseKataManagerConfig, ABadEntryIsAnErrorNamingItNotDropped) {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"runtimeClasses:\n- name: Kata_GPU\n  artifacts: {url: r.example/k:v1}\n",
       "runtimeClasses[0].name \"Kata_GPU\""},
      {"runtimeClasses:\n- name: kata\n", "runtimeClasses[0].artifacts.url is required"},
      {"runtimeClasses:\n- name: kata\n  artifacts: {url: 'r.example/K:v1'}\n",
       "runtimeClasses[0].artifacts.url"},
      {"runtimeClasses:\n- {name: a, artifacts: {url: r.example/k}}\n- {name: a, artifacts: {url: "
       "r.example/k}}\n",
       "runtimeClasses[1].name \"a\" appears twice"},
      {"artifactsDir: relative\n", "artifactsDir \"relative\" is not an absolute path"},
      // Each replaced whole per runtime class: a class "etc" under "/" was the host's /etc.
      {"artifactsDir: /\n", "is / itself, a system folder"},
      {"artifactsDir: /opt/\n", "is /opt itself"},
      {"artifactsDir: /etc/kata\n", "lies in /etc"},
      {"artifactsDir: /usr/lib/kata\n", "lies in /usr/lib"},
      {"artifactsDir: /opt/x/../../etc\n", "holds \".\" or \"..\""},
      {"runtimeClasses: {}\n", "runtimeClasses must be a list"},
      {"runtimeClasses:\n- name: a\n  nodeSelector: [x]\n  artifacts: {url: r.example/k}\n",
       "nodeSelector must be a mapping"},
      {"runtimeClasses: [\n", "kata manager config:"}};
  for (const auto& [yaml, error] : table) {
    absl::StatusOr<KataManagerConfig> config = ParseKataManagerConfig(yaml);
    EXPECT_FALSE(config.ok()) << yaml;
    EXPECT_THAT(std::string(config.status().message()), HasSubstr(error)) << yaml;
  }
}

TEST(SelectorMatches, EveryKeyMustHaveItsValue) {
  const std::map<std::string, std::string> labels = {{"a", "1"}, {"b", "2"}};
  EXPECT_TRUE(SelectorMatches({}, labels));
  EXPECT_TRUE(SelectorMatches({{"a", "1"}}, labels));
  EXPECT_FALSE(SelectorMatches({{"a", "2"}}, labels));
  EXPECT_FALSE(SelectorMatches({{"a", "1"}, {"c", "3"}}, labels));
}

TEST(PointKataConfigAt, RewritesKernelImageAndInitrdOfEveryHypervisorOnly) {
  absl::StatusOr<std::string> pointed = PointKataConfigAt(
      "[hypervisor.qemu]\nkernel = \"/opt/kata/share/vmlinux.container\"\n"
      "initrd = \"/opt/kata/share/kata-initrd.img\"\npath = \"/opt/kata/bin/qemu\"\n"
      "[hypervisor.clh]\nimage = \"/x/kata.img\"\n[runtime]\nkernel = \"/not/this\"\n",
      "/opt/artifacts/kata-qemu-nvidia-gpu");
  ASSERT_TRUE(pointed.ok()) << pointed.status();
  EXPECT_THAT(*pointed,
              HasSubstr("kernel = '/opt/artifacts/kata-qemu-nvidia-gpu/vmlinux.container'"));
  EXPECT_THAT(*pointed,
              HasSubstr("initrd = '/opt/artifacts/kata-qemu-nvidia-gpu/kata-initrd.img'"));
  EXPECT_THAT(*pointed, HasSubstr("image = '/opt/artifacts/kata-qemu-nvidia-gpu/kata.img'"));
  EXPECT_THAT(*pointed, HasSubstr("path = '/opt/kata/bin/qemu'"));
  EXPECT_THAT(*pointed, HasSubstr("kernel = '/not/this'"));
  EXPECT_FALSE(PointKataConfigAt("[hypervisor.qemu\n", "/x").ok());
}

TEST(ParseKataManagerConfig, AFolderOfGpuopsOwnBelowASystemFolderIsTaken) {
  absl::StatusOr<KataManagerConfig> config =
      ParseKataManagerConfig("artifactsDir: /opt//kata-artifacts/\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->artifacts_dir, "/opt/kata-artifacts");
}

TEST(ParseArtifactRecord, ReadsWhatAnInstallWritesAndNothingMalformed) {
  const std::string good =
      R"({"url":"r.example/k:v1","digest":"sha256:aa","configPath":"/opt/a/k/c.toml",)"
      R"("files":[{"name":"c.toml","digest":"sha256:bb","size":10,"installedSize":12},)"
      R"({"name":"vmlinux","digest":"sha256:cc","size":5}]})";
  std::optional<ArtifactRecord> record = ParseArtifactRecord(good);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->config_path, "/opt/a/k/c.toml");
  ASSERT_EQ(record->files.size(), 2u);
  EXPECT_EQ(record->files[0].installed_size, 12);
  EXPECT_EQ(record->files[1].installed_size, 5);
  // Each of these once crashed a reader or would name a file outside the folder.
  for (
      const char* bad :
      {R"({"url":1,"digest":"d","configPath":"/c","files":[]})",
       R"({"url":"u","digest":"d","configPath":"relative","files":[]})",
       R"({"url":"u","digest":"d","configPath":"/c","files":{}})",
       R"({"url":"u","digest":"d","configPath":"/c","files":[{"name":"../x","digest":"d","size":1}]})",
       R"({"url":"u","digest":"d","configPath":"/c","files":[{"name":"x","digest":"d","size":-1}]})",
       R"({"url":"u","digest":"d","configPath":"/c","files":[{"name":"x","digest":"d","size":"1"}]})",
       R"({"url":"u","digest":"d","configPath":"/c","files":[1]})", R"([])", "", "{"}) {
    EXPECT_FALSE(ParseArtifactRecord(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace gpuop::operands
