// The MIG manager as rendered from the ClusterPolicy, the checks of the admin's device plugin
// and MIG configs, and the checked copies the operands read instead of the admin's ConfigMaps.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>

#include "operator/checked_configs.h"
#include "operator/device_plugin_config_check.h"
#include "operator/mig_config_check.h"
#include "operator/mig_manager_operand.h"
#include "render_helpers.h"

namespace gpuop::op {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const json* Volume(const json& daemonset, const std::string& name) {
  for (const json& volume : daemonset["spec"]["template"]["spec"]["volumes"]) {
    if (volume["name"] == name) return &volume;
  }
  return nullptr;
}

// The default layouts ConfigMap as the operator renders it.
std::string DefaultMigLayouts() {
  const auto states = Render(json::object(), ContextWith("ubuntu24.04", true));
  const json* config = Find(states, "ConfigMap", kDefaultMigConfigMap);
  return config == nullptr ? "" : (*config)["data"][kMigConfigKey].get<std::string>();
}

TEST(MigManagerRender, NvidiasDefaultsRunItOnTheOperatorsDefaultLayouts) {
  const auto states = Render(json::object(), ContextWith("ubuntu24.04", true));
  ASSERT_TRUE(states.at("state-mig-manager").enabled);
  ASSERT_TRUE(states.at("state-mig-manager").error.ok()) << states.at("state-mig-manager").error;
  const json* manager = Find(states, "DaemonSet", "nvidia-mig-manager");
  ASSERT_NE(manager, nullptr);
  const std::string main = "nvidia-mig-manager";
  EXPECT_EQ(ImageOf(*manager, main), "nvcr.io/nvidia/cloud-native/k8s-mig-manager:v0.15.0");
  EXPECT_EQ(ImageOf(*manager, "toolkit-validation"), "registry.local/gpuop:0.5.0");
  const json& pod = (*manager)["spec"]["template"]["spec"];
  EXPECT_EQ(pod["nodeSelector"]["nvidia.com/gpu.deploy.mig-manager"], "true");
  EXPECT_EQ(pod["runtimeClassName"], "nvidia");
  EXPECT_EQ(pod["hostPID"], true);
  EXPECT_EQ(pod["hostIPC"], true);
  EXPECT_EQ(EnvOf(*manager, main, "DEFAULT_CONFIG_FILE"), "/mig-parted-config/config-default.yaml");
  EXPECT_EQ(EnvOf(*manager, main, "CONFIG_FILE"), "");
  EXPECT_EQ(EnvOf(*manager, main, "CDI_ENABLED"), "true");
  EXPECT_EQ(EnvOf(*manager, main, "NVIDIA_CDI_HOOK_PATH"),
            "/usr/local/nvidia/toolkit/nvidia-cdi-hook");
  EXPECT_EQ(EnvOf(*manager, main, "DEFAULT_GPU_CLIENTS_NAMESPACE"), "gpu-operator");
  const json* layouts = Volume(*manager, "mig-parted-config");
  ASSERT_NE(layouts, nullptr);
  EXPECT_EQ((*layouts)["configMap"]["name"], kDefaultMigConfigMap);
  EXPECT_EQ((*layouts)["configMap"]["items"][0]["path"], "config-default.yaml");
  EXPECT_EQ((*Volume(*manager, "gpu-clients"))["configMap"]["name"], kDefaultGpuClientsConfigMap);
  EXPECT_NE(Find(states, "ConfigMap", kDefaultMigConfigMap), nullptr);
  EXPECT_NE(Find(states, "ConfigMap", kDefaultGpuClientsConfigMap), nullptr);
  EXPECT_EQ(Find(states, "ConfigMap", kCheckedMigConfig), nullptr) << "no layouts of the admin's";
  EXPECT_NE(Find(states, "ClusterRole", "nvidia-mig-manager"), nullptr);
}

TEST(MigManagerRender,
     AnAdminsLayoutsAndClientsReplaceTheDefaultsAndTheManagerReadsTheCheckedCopy) {
  const json spec = json::parse(R"({
    "cdi": {"enabled": false},
    "migManager": {"config": {"name": "my-layouts"}, "gpuClientsConfig": {"name": "my-clients"},
                   "env": [{"name": "WITH_REBOOT", "value": "true"}],
                   "repository": "registry.example.com/nvidia", "image": "k8s-mig-manager",
                   "version": "v0.15.1"}})");
  RenderContext context = ContextWith("ubuntu24.04", true);
  context.checked_mig_config = ConfigData{{"config.yaml", "version: v1\n"}};
  const auto states = Render(spec, context);
  ASSERT_TRUE(states.at("state-mig-manager").error.ok()) << states.at("state-mig-manager").error;
  const json* manager = Find(states, "DaemonSet", "nvidia-mig-manager");
  ASSERT_NE(manager, nullptr);
  const std::string main = "nvidia-mig-manager";
  EXPECT_EQ(ImageOf(*manager, main), "registry.example.com/nvidia/k8s-mig-manager:v0.15.1");
  EXPECT_EQ(EnvOf(*manager, main, "CONFIG_FILE"), "/mig-parted-config/config.yaml");
  EXPECT_EQ(EnvOf(*manager, main, "DEFAULT_CONFIG_FILE"), "");
  EXPECT_EQ(EnvOf(*manager, main, "WITH_REBOOT"), "true") << "the admin's env wins";
  EXPECT_EQ(EnvOf(*manager, main, "CDI_ENABLED"), "");
  const json* layouts = Volume(*manager, "mig-parted-config");
  ASSERT_NE(layouts, nullptr);
  EXPECT_EQ((*layouts)["configMap"], json({{"name", kCheckedMigConfig}}));
  EXPECT_EQ((*Volume(*manager, "gpu-clients"))["configMap"]["name"], "my-clients");
  EXPECT_EQ(Find(states, "ConfigMap", kDefaultMigConfigMap), nullptr);
  EXPECT_EQ(Find(states, "ConfigMap", kDefaultGpuClientsConfigMap), nullptr);
  const json* copy = Find(states, "ConfigMap", kCheckedMigConfig);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ((*copy)["data"], json({{"config.yaml", "version: v1\n"}}));
}

TEST(MigManagerRender, DisabledItRendersNothing) {
  const auto states =
      Render({{"migManager", {{"enabled", false}}}}, ContextWith("ubuntu24.04", true));
  EXPECT_FALSE(states.at("state-mig-manager").enabled);
  EXPECT_EQ(Find(states, "DaemonSet", "nvidia-mig-manager"), nullptr);
}

TEST(MigConfigCheck, TheOperatorsDefaultLayoutsPass) {
  const std::string text = DefaultMigLayouts();
  ASSERT_FALSE(text.empty());
  absl::StatusOr<std::set<std::string>> layouts = CheckMigConfig(text);
  ASSERT_TRUE(layouts.ok()) << layouts.status();
  for (const char* name : {"all-disabled", "all-enabled", "all-1g.10gb", "all-balanced"}) {
    EXPECT_TRUE(layouts->contains(name)) << name;
  }
}

TEST(MigConfigCheck, BadLayoutsAreRefusedWithTheLineAndField) {
  const struct {
    const char* text;
    const char* error;
  } cases[] = {
      {"mig-configs: {a: [{devices: all, mig-enabled: false}]}\n",
       "version: is missing: mig-parted reads version v1"},
      {"version: v2\nmig-configs: {}\n", "line 1: version: \"v2\" is not v1"},
      {"version: v1\n", "mig-configs: is missing"},
      {"version: v1\nmig-configs:\n  custom:\n    - devices: all\n",
       "line 4: mig-configs.custom[0].mig-enabled: is missing (true or false)"},
      {"version: v1\nmig-configs:\n  custom:\n    - devices: all\n      mig-enabled: yes\n",
       "line 5: mig-configs.custom[0].mig-enabled: \"yes\" is not true or false"},
      {"version: v1\nmig-configs:\n  custom:\n    - devices: [0, x]\n      mig-enabled: true\n",
       "line 4: mig-configs.custom[0].devices[1]: \"x\" is not a GPU index"},
      {"version: v1\nmig-configs:\n  custom:\n    - devices: all\n      mig-enabled: true\n"
       "      mig-devices:\n        \"1g.10gb\": 7\n        \"3g\": 2\n",
       "line 8: mig-configs.custom[0].mig-devices.3g: is not a MIG profile"},
      {"version: v1\nmig-configs:\n  custom:\n    - devices: all\n      mig-enabled: true\n"
       "      mig-devices:\n        \"1g.10gb\": -1\n",
       "line 7: mig-configs.custom[0].mig-devices.1g.10gb: -1 is not a count of 0 or more"},
      {"version: v1\nmig-configs:\n  custom:\n    - devices: all\n      mig-enabled: false\n"
       "      mig-devices: {\"1g.10gb\": 7}\n",
       "line 6: mig-configs.custom[0].mig-devices: lists MIG devices but mig-enabled is false"},
      {"version: v1\nmig-configs:\n  custom:\n    - device-filter: 0x2330\n      devices: all\n"
       "      mig-enabled: false\n",
       "line 4: mig-configs.custom[0].device-filter: \"0x2330\" is not a PCI device ID"},
      {"version: v1\nmig-configs:\n  custom:\n    - devices: all\n      mig-enable: true\n",
       "line 5: mig-configs.custom[0].mig-enable: is not device-filter, devices, mig-enabled or "
       "mig-devices"},
      {"version: v1\nmig-configs:\n  custom: [\n", "line"},
      {"version: v1\nmig-configs:\n  custom:\n    - devices: all\n      mig-enabled: true\n",
       "mig-configs.custom[0].mig-devices: is missing (mig-enabled is true)"},
      {"version: v1\nmig-config:\n  custom: []\n",
       "line 2: mig-config: is not version or mig-configs: mig-parted refuses it"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<std::set<std::string>> layouts = CheckMigConfig(c.text);
    ASSERT_FALSE(layouts.ok()) << c.text;
    EXPECT_THAT(layouts.status().message(), HasSubstr(c.error)) << c.text;
  }
}

TEST(MigConfigCheck, ProfilesWithComputeSlicesAndAttributesPass) {
  absl::StatusOr<std::set<std::string>> layouts = CheckMigConfig(
      "version: v1\nmig-configs:\n  mixed:\n    - device-filter: [\"0x233010DE\"]\n"
      "      devices: [0, 1]\n      mig-enabled: true\n      mig-devices:\n"
      "        \"1g.10gb+me\": 1\n        \"1c.2g.20gb\": 2\n        \"1g.20gb\": 0\n");
  ASSERT_TRUE(layouts.ok()) << layouts.status();
  EXPECT_THAT(*layouts, ElementsAre("mixed"));
}

TEST(DevicePluginConfigCheck, TimeSlicingAndMpsConfigsAsNvidiasDocsWriteThemPass) {
  for (const char* text : {
           "version: v1\nflags:\n  migStrategy: none\nsharing:\n  timeSlicing:\n"
           "    resources:\n    - name: nvidia.com/gpu\n      replicas: 4\n",
           "version: v1\nsharing:\n  timeSlicing:\n    renameByDefault: true\n"
           "    failRequestsGreaterThanOne: true\n    resources:\n    - name: nvidia.com/gpu\n"
           "      replicas: 10\n      devices: [0, \"1\", \"0:1\"]\n",
           "version: v1\nsharing:\n  mps:\n    resources:\n    - name: nvidia.com/gpu\n"
           "      replicas: 2\n      rename: gpu.shared\n",
           "version: v1\nflags:\n  plugin:\n    deviceListStrategy: [envvar, cdi-cri]\n"
           "    deviceIDStrategy: index\n    passDeviceSpecs: true\n",
           "",                                 // The plugin's defaults.
           "version: v1\nsharing:\n  mps:\n",  // mps: null is no MPS to the plugin.
           "version: v1\nflags:\n  deviceDiscoveryStrategy: nvml\n  gfd:\n"
           "    sleepInterval: 1m30s\n    oneshot: true\nimex:\n  channelIDs: [0]\n",
           "version: v1\nflags:\n  gfd:\n    sleepInterval: 60000000000\n",
           "version: v1\nsharing:\n  timeSlicing:\n    resources:\n    - name: gpu\n"
           "      replicas: 2\n      devices:\n      - GPU-b1028956-cfa2-0990-bf4a-5da9abb51763\n"
           "      - MIG-b1028956-cfa2-0990-bf4a-5da9abb51763\n"
           "      - MIG-GPU-b1028956-cfa2-0990-bf4a-5da9abb51763/3/0\n",
       }) {
    EXPECT_TRUE(CheckDevicePluginConfig(text).ok())
        << text << CheckDevicePluginConfig(text).status();
  }
}

TEST(DevicePluginConfigCheck, BadConfigsAreRefusedWithTheLineAndField) {
  const struct {
    const char* text;
    const char* error;
  } cases[] = {
      {"version: v2\n", "line 1: version: \"v2\" is not a version the plugin reads (v1)"},
      {"version: v1\nsharing:\n  timeSlicing:\n", "sharing.timeSlicing: is empty"},
      {"version: v1\nflags:\n  deviceDiscoveryStrategy: gpu\n",
       "line 3: flags.deviceDiscoveryStrategy: \"gpu\" is not one of auto, nvml, tegra"},
      {"version: v1\nflags:\n  mpsRoot: 5\n", "line 3: flags.mpsRoot: 5 is not a string"},
      {"version: v1\nflags:\n  gfd:\n    sleepInterval: 1 minute\n",
       "line 4: flags.gfd.sleepInterval: \"1 minute\" is not a duration"},
      {"version: v1\nimex:\n  channelIDs: [1]\n", "line 3: imex.channelIDs: [1] is not [] or [0]"},
      {"version: v1\nsharing:\n  timeSlicing:\n    resources:\n    - name: gpu\n"
       "      replicas: 2\n      devices: [GPU-b1028956-cfa2]\n",
       "line 7: sharing.timeSlicing.resources[0].devices[0]: \"GPU-b1028956-cfa2\" is not"},
      {"version: v1\nsharing:\n  timeSlicing:\n    resources:\n    - name: gpu\n"
       "      replicas: 2\n      devices: [MIG-GPU-b1028956-cfa2-0990-bf4a-5da9abb51763/x/0]\n",
       "is not a GPU index"},
      {"version: v1\nsharing:\n  timeslicing:\n    resources: []\n",
       "line 3: sharing.timeslicing: is not timeSlicing or mps: the plugin would ignore it"},
      {"version: v1\nshareing: {}\n", "line 2: shareing: is not a field of the device plugin's"},
      {"version: v1\nsharing:\n  timeSlicing:\n    resources:\n    - name: nvidia.com/gpu\n"
       "      replicas: 1\n",
       "line 6: sharing.timeSlicing.resources[0].replicas: must be 2 or more, not 1"},
      {"version: v1\nsharing:\n  timeSlicing:\n    resources:\n    - name: nvidia.com/gpu\n",
       "line 5: sharing.timeSlicing.resources[0].replicas: is missing"},
      {"version: v1\nsharing:\n  timeSlicing:\n    resources:\n    - name: nvidia.com/gpu\n"
       "      replicas: four\n",
       "line 6: sharing.timeSlicing.resources[0].replicas: \"four\" is not a whole number"},
      {"version: v1\nsharing:\n  mps:\n    renameByDefault: yes\n    resources: []\n",
       "line 4: sharing.mps.renameByDefault: \"yes\" is not true or false"},
      {"version: v1\nsharing:\n  mps: {}\n", "sharing.mps.resources: is missing: nothing to share"},
      {"version: v1\nsharing:\n  timeSlicing:\n    resources:\n    - name: Nvidia_GPU\n"
       "      replicas: 2\n",
       "line 5: sharing.timeSlicing.resources[0].name: \"nvidia.com/Nvidia_GPU\" is not a "
       "resource name"},
      {"version: v1\nsharing:\n  timeSlicing:\n    resources:\n    - name: gpu\n"
       "      replicas: 2\n      devices: [GPU0]\n",
       "line 7: sharing.timeSlicing.resources[0].devices[0]: \"GPU0\" is not a GPU index"},
      {"version: v1\nsharing:\n  timeSlicing:\n    resources: [{name: gpu, replicas: 2}]\n"
       "  mps:\n    resources: [{name: gpu, replicas: 2}]\n",
       "line 2: sharing: has both timeSlicing and mps"},
      {"version: v1\nflags:\n  migStrategy: all\n",
       "line 3: flags.migStrategy: \"all\" is not one of none, single, mixed"},
      {"version: v1\nflags:\n  plugin:\n    deviceListStrategy: [envvar, cdi]\n",
       "line 4: flags.plugin.deviceListStrategy[1]: \"cdi\" is not one of envvar"},
      {"- version: v1\n", "the document: is not a mapping"},
      {"version: v1\nsharing: {\n", "line"},
  };
  for (const auto& c : cases) {
    const absl::Status checked = CheckDevicePluginConfig(c.text).status();
    ASSERT_FALSE(checked.ok()) << c.text;
    EXPECT_THAT(checked.message(), HasSubstr(c.error)) << c.text;
  }
}

const char kTimeSlicing4[] =
    "version: v1\nsharing:\n  timeSlicing:\n    resources:\n    - name: nvidia.com/gpu\n"
    "      replicas: 4\n";
const char kTimeSlicing1[] =
    "version: v1\nsharing:\n  timeSlicing:\n    resources:\n    - name: nvidia.com/gpu\n"
    "      replicas: 1\n";

api::ClusterPolicy PluginConfigPolicy(const char* default_config = "ts") {
  return Parse(
      {{"devicePlugin", {{"config", {{"name", "sharing"}, {"default", default_config}}}}}});
}

ConfigMapLookup Lookup(std::map<std::string, ConfigData> configmaps) {
  return
      [configmaps = std::move(configmaps)](const std::string& name) -> std::optional<ConfigData> {
        const auto it = configmaps.find(name);
        if (it == configmaps.end()) return std::nullopt;
        return it->second;
      };
}

TEST(CheckedConfigs, GoodConfigsAreCopiedAsTheyAre) {
  const CheckedConfigs checked = CheckOperandConfigs(
      PluginConfigPolicy(), "gpu-operator",
      Lookup({{"sharing", {{"ts", kTimeSlicing4}, {"plain", "version: v1\n"}}}}));
  EXPECT_THAT(checked.problems, IsEmpty());
  ASSERT_TRUE(checked.device_plugin);
  EXPECT_EQ(*checked.device_plugin,
            (ConfigData{{"ts", kTimeSlicing4}, {"plain", "version: v1\n"}}));
  EXPECT_FALSE(checked.mig) << "the default layouts are the operator's own";
}

TEST(CheckedConfigs, ABadEditKeepsTheLastGoodVersionAndSaysWhy) {
  const CheckedConfigs checked =
      CheckOperandConfigs(PluginConfigPolicy(), "gpu-operator",
                          Lookup({{"sharing", {{"ts", kTimeSlicing1}, {"plain", "version: v1\n"}}},
                                  {kCheckedDevicePluginConfigs, {{"ts", kTimeSlicing4}}}}));
  ASSERT_TRUE(checked.device_plugin);
  EXPECT_EQ(*checked.device_plugin,
            (ConfigData{{"ts", kTimeSlicing4}, {"plain", "version: v1\n"}}));
  ASSERT_EQ(checked.problems.size(), 1u);
  EXPECT_EQ(checked.problems[0].reason, kInvalidDevicePluginConfig);
  EXPECT_THAT(checked.problems[0].message,
              HasSubstr("ConfigMap gpu-operator/sharing, config \"ts\": line 6: "
                        "sharing.timeSlicing.resources[0].replicas: must be 2 or more, not 1 "
                        "(the last good version stays in use)"));
}

// The config-manager stops the plugin's pod when the copy lacks the config a node asks for, so a
// name the admin's text cannot serve gets the plugin's built-in config, as the status says.
TEST(CheckedConfigs, ABadNewConfigAndAMissingDefaultGetTheBuiltInConfig) {
  const CheckedConfigs checked =
      CheckOperandConfigs(PluginConfigPolicy("everyone"), "gpu-operator",
                          Lookup({{"sharing", {{"ts", kTimeSlicing1}}}}));
  ASSERT_TRUE(checked.device_plugin);
  EXPECT_EQ(*checked.device_plugin, (ConfigData{{"ts", kBuiltInDevicePluginConfig},
                                                {"everyone", kBuiltInDevicePluginConfig}}));
  ASSERT_EQ(checked.problems.size(), 2u);
  EXPECT_THAT(checked.problems[0].message, HasSubstr("(nodes that pick it get the plugin's "
                                                     "built-in config)"));
  EXPECT_THAT(checked.problems[1].message,
              HasSubstr("spec.devicePlugin.config.default \"everyone\" is not a config of "
                        "ConfigMap gpu-operator/sharing (ts)"));
  // Fixed later: the admin's text replaces the built-in one, never the reverse.
  const CheckedConfigs fixed =
      CheckOperandConfigs(PluginConfigPolicy("ts"), "gpu-operator",
                          Lookup({{"sharing", {{"ts", kTimeSlicing1}}},
                                  {kCheckedDevicePluginConfigs, *checked.device_plugin}}));
  ASSERT_TRUE(fixed.device_plugin);
  // "everyone" stays as it was served: a node may still pick it.
  EXPECT_EQ(*fixed.device_plugin, (ConfigData{{"ts", kBuiltInDevicePluginConfig},
                                              {"everyone", kBuiltInDevicePluginConfig}}));
  EXPECT_THAT(fixed.problems[0].message, HasSubstr("built-in config")) << "no last good to keep";
}

TEST(CheckedConfigs, AnEmptyOrMissingConfigMapStillLeavesTheConfigManagerAConfig) {
  const CheckedConfigs empty =
      CheckOperandConfigs(PluginConfigPolicy(""), "gpu-operator", Lookup({{"sharing", {}}}));
  ASSERT_TRUE(empty.device_plugin);
  EXPECT_EQ(*empty.device_plugin, (ConfigData{{"default", kBuiltInDevicePluginConfig}}));
  ASSERT_EQ(empty.problems.size(), 1u);
  EXPECT_THAT(empty.problems[0].message, HasSubstr("holds no configs"));
  const CheckedConfigs missing =
      CheckOperandConfigs(PluginConfigPolicy("ts"), "gpu-operator", Lookup({}));
  ASSERT_TRUE(missing.device_plugin);
  EXPECT_EQ(*missing.device_plugin, (ConfigData{{"ts", kBuiltInDevicePluginConfig}}));
}

TEST(CheckedConfigs, MpsBesideTheMixedMigStrategyIsRefusedAsThePluginWould) {
  const char* mps =
      "version: v1\nsharing:\n  mps:\n    resources:\n    - name: nvidia.com/gpu\n"
      "      replicas: 2\n";
  api::ClusterPolicy policy = PluginConfigPolicy("mps");
  policy.mig_strategy = "mixed";
  CheckedConfigs checked =
      CheckOperandConfigs(policy, "gpu-operator", Lookup({{"sharing", {{"mps", mps}}}}));
  ASSERT_EQ(checked.problems.size(), 1u);
  EXPECT_THAT(checked.problems[0].message, HasSubstr("refuses MPS with MIG strategy mixed"));
  policy.mig_strategy = "single";
  checked = CheckOperandConfigs(policy, "gpu-operator", Lookup({{"sharing", {{"mps", mps}}}}));
  EXPECT_THAT(checked.problems, IsEmpty());
}

TEST(CheckedConfigs, AMissingConfigMapKeepsWhatTheCopyHad) {
  const CheckedConfigs checked =
      CheckOperandConfigs(PluginConfigPolicy(), "gpu-operator",
                          Lookup({{kCheckedDevicePluginConfigs, {{"ts", kTimeSlicing4}}}}));
  ASSERT_TRUE(checked.device_plugin);
  EXPECT_EQ(*checked.device_plugin, (ConfigData{{"ts", kTimeSlicing4}}));
  ASSERT_EQ(checked.problems.size(), 1u);
  EXPECT_THAT(checked.problems[0].message,
              HasSubstr("ConfigMap gpu-operator/sharing (spec.devicePlugin.config.name) does not "
                        "exist: the device plugin and GFD keep the configs they had"));
}

TEST(CheckedConfigs, TheAdminsMigLayoutsAreCheckedAndABadOneKeepsTheLastGood) {
  const api::ClusterPolicy policy = Parse({{"migManager", {{"config", {{"name", "layouts"}}}}}});
  const std::string good = DefaultMigLayouts();
  CheckedConfigs checked =
      CheckOperandConfigs(policy, "gpu-operator", Lookup({{"layouts", {{"config.yaml", good}}}}));
  EXPECT_THAT(checked.problems, IsEmpty());
  ASSERT_TRUE(checked.mig);
  EXPECT_EQ(*checked.mig, (ConfigData{{"config.yaml", good}}));

  checked = CheckOperandConfigs(policy, "gpu-operator",
                                Lookup({{"layouts", {{"config.yaml", "version: v1\n"}}},
                                        {kCheckedMigConfig, {{"config.yaml", good}}}}));
  ASSERT_TRUE(checked.mig);
  EXPECT_EQ(*checked.mig, (ConfigData{{"config.yaml", good}}));
  ASSERT_EQ(checked.problems.size(), 1u);
  EXPECT_EQ(checked.problems[0].reason, kInvalidMigConfig);
  EXPECT_THAT(checked.problems[0].message,
              HasSubstr("ConfigMap gpu-operator/layouts, config.yaml: mig-configs: is missing"));
  EXPECT_THAT(checked.problems[0].message, HasSubstr("the MIG manager keeps the layouts it had"));

  checked = CheckOperandConfigs(policy, "gpu-operator", Lookup({{"layouts", {{"other", good}}}}));
  ASSERT_EQ(checked.problems.size(), 1u);
  EXPECT_THAT(checked.problems[0].message, HasSubstr("has no key config.yaml"));
}

// A node's label naming a config the ConfigMap lacks: NVIDIA's config-manager would stop the
// plugin's pod there, so the copy serves the built-in config under that name, and the status
// names the node and the label.
TEST(CheckedConfigs, ANodeLabelNamingAMissingConfigIsAProblemAndGetsTheBuiltInConfig) {
  ContainerNodeFacts nodes;
  nodes.device_plugin_configs = {{"ts", {.nodes = 2, .first_node = "gpu-a"}},
                                 {"t5", {.nodes = 1, .first_node = "gpu-c"}}};
  const CheckedConfigs checked = CheckOperandConfigs(
      PluginConfigPolicy(), "gpu-operator", Lookup({{"sharing", {{"ts", kTimeSlicing4}}}}), nodes);
  ASSERT_TRUE(checked.device_plugin);
  EXPECT_EQ(*checked.device_plugin,
            (ConfigData{{"ts", kTimeSlicing4}, {"t5", kBuiltInDevicePluginConfig}}));
  ASSERT_EQ(checked.problems.size(), 1u);
  EXPECT_EQ(checked.problems[0].reason, kInvalidDevicePluginConfig);
  EXPECT_EQ(checked.problems[0].message,
            "node gpu-c picks nvidia.com/device-plugin.config=t5, which is not a config of "
            "ConfigMap gpu-operator/sharing: the device plugin and GFD there run with their "
            "built-in config");
  // The admin removes "ts" while nodes pick it: the copy keeps its last good version, and says
  // so; a name the copy served (t5) stays in it too, picked or not (the picks are partial just
  // after an operator restart).
  const CheckedConfigs removed = CheckOperandConfigs(
      PluginConfigPolicy(""), "gpu-operator",
      Lookup({{"sharing", {{"plain", "version: v1\n"}}},
              {kCheckedDevicePluginConfigs, *checked.device_plugin}}),
      ContainerNodeFacts{.device_plugin_configs = {{"ts", {.nodes = 2, .first_node = "gpu-a"}}}});
  ASSERT_TRUE(removed.device_plugin);
  EXPECT_EQ(*removed.device_plugin, (ConfigData{{"ts", kTimeSlicing4},
                                                {"t5", kBuiltInDevicePluginConfig},
                                                {"plain", "version: v1\n"}}));
  ASSERT_EQ(removed.problems.size(), 1u);
  EXPECT_THAT(removed.problems[0].message,
              HasSubstr("nodes gpu-a and others pick nvidia.com/device-plugin.config=ts, which is "
                        "not a config of ConfigMap gpu-operator/sharing: the device plugin and GFD "
                        "there keep its last good version"));
  // With the ConfigMap gone, the copy keeps what it had and serves the rest built-in.
  const CheckedConfigs gone =
      CheckOperandConfigs(PluginConfigPolicy(), "gpu-operator",
                          Lookup({{kCheckedDevicePluginConfigs, {{"ts", kTimeSlicing4}}}}), nodes);
  ASSERT_TRUE(gone.device_plugin);
  EXPECT_EQ(*gone.device_plugin,
            (ConfigData{{"ts", kTimeSlicing4}, {"t5", kBuiltInDevicePluginConfig}}));
}

TEST(CheckedConfigs, ANodeLabelNamingALayoutTheAdminsConfigLacksIsAProblem) {
  ContainerNodeFacts nodes;
  nodes.mig_configs = {{"all-disabled", {.nodes = 3, .first_node = "gpu-a"}},
                       {"all-1g.10g", {.nodes = 2, .first_node = "gpu-b"}}};
  const api::ClusterPolicy policy = Parse({{"migManager", {{"config", {{"name", "layouts"}}}}}});
  const CheckedConfigs checked = CheckOperandConfigs(
      policy, "gpu-operator", Lookup({{"layouts", {{"config.yaml", DefaultMigLayouts()}}}}), nodes);
  ASSERT_EQ(checked.problems.size(), 1u);
  EXPECT_EQ(checked.problems[0].reason, kInvalidMigConfig);
  EXPECT_EQ(checked.problems[0].message,
            "nodes gpu-b and others pick nvidia.com/mig.config=all-1g.10g, which is not a "
            "layout of ConfigMap gpu-operator/layouts: the MIG manager there will report "
            "nvidia.com/mig.config.state=failed");
  // The operator's default layouts are not checked against: NVIDIA's manager generates layouts
  // from the GPUs it finds first.
  EXPECT_THAT(
      CheckOperandConfigs(Parse(json::object()), "gpu-operator", Lookup({}), nodes).problems,
      IsEmpty());
}

TEST(CheckedConfigs, SourcesAreTheNamedConfigMapsAndTheirCopies) {
  const api::ClusterPolicy policy = Parse({{"devicePlugin", {{"config", {{"name", "sharing"}}}}},
                                           {"migManager", {{"config", {{"name", "layouts"}}}}}});
  for (const char* name : {"sharing", "layouts", kCheckedDevicePluginConfigs, kCheckedMigConfig}) {
    EXPECT_TRUE(IsCheckedConfigSource(policy, name)) << name;
  }
  EXPECT_FALSE(IsCheckedConfigSource(policy, "nvidia-device-plugin-entrypoint"));
  EXPECT_FALSE(IsCheckedConfigSource(Parse(json::object()), kCheckedDevicePluginConfigs));
}

TEST(SharingRender, TheDevicePluginAndGfdReadTheCheckedCopy) {
  RenderContext context = ContextWith("ubuntu24.04", true);
  context.checked_device_plugin_configs = ConfigData{{"ts", kTimeSlicing4}};
  const auto states =
      Render({{"devicePlugin", {{"config", {{"name", "sharing"}, {"default", "ts"}}}}}}, context);
  for (const char* name : {"nvidia-device-plugin-daemonset", "gpu-feature-discovery"}) {
    const json* daemonset = Find(states, "DaemonSet", name);
    ASSERT_NE(daemonset, nullptr) << name;
    const json* configs = Volume(*daemonset, "device-plugin-configs");
    ASSERT_NE(configs, nullptr) << name;
    EXPECT_EQ((*configs)["configMap"]["name"], kCheckedDevicePluginConfigs) << name;
  }
  const json* copy = Find(states, "ConfigMap", kCheckedDevicePluginConfigs);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ((*copy)["data"], json({{"ts", kTimeSlicing4}}));
  EXPECT_EQ((*copy)["metadata"]["namespace"], "gpu-operator");
}

}  // namespace
}  // namespace gpuop::op
