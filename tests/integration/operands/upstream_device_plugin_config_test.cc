// NVIDIA's device plugin (v0.17.4, the only version the Go module proxy serves, built from it by
// tools/device-plugin) run as gpuop deploys it, on each config of the ConfigMap gpuop's chart
// makes from devicePlugin.config.create and data. The chain is the product's: helm renders the
// chart; the ClusterPolicy it holds is parsed and the operator's renderer makes the device plugin
// DaemonSet; the plugin gets that DaemonSet's env (with the host driver's roots from
// driver-ready, as its entrypoint sources them) and the config file the config-manager would
// copy (the DaemonSet's DEFAULT_CONFIG for an unlabelled node, or the key a
// nvidia.com/device-plugin.config label names). On this machine without a GPU it must parse the
// config, print what it runs with, and wait for devices. Two departures from the DaemonSet, both
// because there is no GPU: FAIL_ON_INIT_ERROR is false (with true it exits at once without NVML,
// "invalid device discovery strategy"), and CONFIG_FILE names the test's copy.
// Also the chart's refusals of a ConfigMap it cannot make, each naming the key to fix.
//
// The plugin runs in a private mount namespace with a tmpfs over /var/lib: it watches
// /var/lib/kubelet/device-plugins for the kubelet's socket, and this machine's must stay as it is.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/cluster_policy.h"
#include "common/subprocess.h"
#include "kube/manifest.h"
#include "operator/checked_configs.h"
#include "operator/device_plugin_config_check.h"
#include "operator/embedded_manifests.h"
#include "operator/operand_renderer.h"
#include "tests/fixtures/node_files.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/wait_for.h"
#include "tests/integration/background_process.h"
#include "tests/integration/pinned_helm.h"

namespace gpuop::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// A cluster's sharing configs, as an admin writes them in the chart's values. CDI off: with it
// (the default) the DaemonSet asks for CDI device lists, which the plugin takes only where NVML
// can name the devices ("CDI --device-list-strategy options are only supported on NVML-based
// systems"), so on this machine the plugin would stop before it reads its config.
constexpr char kValues[] = R"(cdi:
  enabled: false
devicePlugin:
  config:
    create: true
    name: plugin-configs
    default: time-sliced
    data:
      time-sliced: |-
        version: v1
        sharing:
          timeSlicing:
            renameByDefault: true
            failRequestsGreaterThanOne: true
            resources:
              - name: nvidia.com/gpu
                replicas: 4
      mps: |-
        version: v1
        sharing:
          mps:
            resources:
              - name: nvidia.com/gpu
                replicas: 2
      mig-mixed: |-
        version: v1
        flags:
          migStrategy: mixed
)";

// helm template of the chart with `values` and `extra` flags, showing `only`; the result as
// helm returned it.
common::ProcessResult Render(const std::string& values, const std::vector<std::string>& extra,
                             const std::string& only) {
  const std::string helm = PinnedHelm();
  EXPECT_FALSE(helm.empty()) << "tools/helm/build.sh or tools/nfd/package-chart.sh failed";
  const std::string values_file = ScratchDir("plugin-values") + "/values.yaml";
  WriteFile(values_file, values);
  std::vector<std::string> argv = {helm, "template",     "gpuop", ChartDir(),
                                   "-n", "gpu-operator", "-f",    values_file};
  if (!only.empty()) argv.insert(argv.end(), {"--show-only", only});
  argv.insert(argv.end(), extra.begin(), extra.end());
  absl::StatusOr<common::ProcessResult> rendered = common::RunProcess(argv);
  EXPECT_TRUE(rendered.ok()) << rendered.status();
  return rendered.ok() ? *rendered : common::ProcessResult{.exit_code = -1};
}

// The JSON the plugin prints after "Running with config:", up to the closing brace at the start
// of a line.
absl::StatusOr<json> ConfigItRunsWith(const std::string& log) {
  const std::size_t said = log.find("Running with config:");
  if (said == std::string::npos) return absl::NotFoundError("no \"Running with config:\"");
  const std::size_t open = log.find('{', said);
  const std::size_t close = log.find("\n}", open);
  if (open == std::string::npos || close == std::string::npos) {
    return absl::NotFoundError("no config after \"Running with config:\"");
  }
  json config = json::parse(log.substr(open, close + 2 - open), nullptr, false);
  if (config.is_discarded()) return absl::InvalidArgumentError("the config is not JSON");
  return config;
}

const json* FindNamed(const json& list, const std::string& name) {
  for (const json& item : list) {
    if (item.value("name", "") == name) return &item;
  }
  return nullptr;
}

// A container's env as the kubelet would give it, for the literal values (NODE_NAME and the
// like come from the pod, and the test sets them).
std::map<std::string, std::string> LiteralEnv(const json& container) {
  std::map<std::string, std::string> env;
  for (const json& variable : container.value("env", json::array())) {
    if (variable.contains("value")) env[variable["name"]] = variable["value"].get<std::string>();
  }
  return env;
}

struct PluginRun {
  std::string log;
  int exit_code = -1;
  bool waited_for_devices = false;
};

// Runs the plugin with `env` until it waits for devices (or ends), then stops it as the kubelet
// stops a pod, with SIGTERM.
PluginRun RunPlugin(const std::map<std::string, std::string>& env) {
  const std::string log_path = ScratchDir("nvidia-device-plugin") + "/plugin.log";
  std::vector<std::string> argv = {"/usr/bin/unshare",
                                   "--mount",
                                   "--propagation",
                                   "private",
                                   "/bin/sh",
                                   "-c",
                                   "mount -t tmpfs tmpfs /var/lib && "
                                   "mkdir -p /var/lib/kubelet/device-plugins && exec \"$@\"",
                                   "sh",
                                   "/usr/bin/env",
                                   "-i",
                                   "PATH=/usr/bin:/bin"};
  for (const auto& [name, value] : env) argv.push_back(name + "=" + value);
  argv.push_back(NVIDIA_DEVICE_PLUGIN);
  BackgroundProcess plugin(argv, log_path);
  PluginRun run;
  const auto waiting = [&] {
    return ReadWhole(log_path).find("No devices found. Waiting indefinitely.") != std::string::npos;
  };
  // Either it waits for devices, or it has ended (a config it refused).
  EXPECT_TRUE(WaitFor([&] { return waiting() || plugin.Exited(); }));
  run.waited_for_devices = waiting();
  if (!plugin.Exited()) plugin.Signal(SIGTERM);
  run.exit_code = plugin.Wait();
  run.log = ReadWhole(log_path);
  return run;
}

// The chart rendered with kValues, then the operator's device plugin DaemonSet for the
// ClusterPolicy it holds.
class UpstreamDevicePluginConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    common::ProcessResult rendered =
        Render(kValues, {"--show-only", "templates/clusterpolicy.yaml"},
               "templates/device-plugin-config.yaml");
    ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
    absl::StatusOr<std::vector<json>> objects = kube::ParseManifests(rendered.out);
    ASSERT_TRUE(objects.ok()) << objects.status();
    json policy_object;
    for (const json& object : *objects) {
      if (object.value("kind", "") == "ConfigMap" &&
          object["metadata"].value("name", "") == "plugin-configs") {
        config_map_ = object;
      }
      if (object.value("kind", "") == "ClusterPolicy") policy_object = object;
    }
    ASSERT_TRUE(config_map_.is_object()) << "the chart made no ConfigMap plugin-configs";
    ASSERT_TRUE(policy_object.is_object()) << "the chart made no ClusterPolicy";
    // What the apiserver adds to a stored object.
    policy_object["metadata"]["uid"] = "uid-1";
    policy_object["metadata"]["generation"] = 1;
    policy_object["metadata"]["creationTimestamp"] = "2026-12-01T00:00:00Z";
    policy_spec_ = policy_object["spec"];
    absl::StatusOr<api::ClusterPolicy> policy = api::ParseClusterPolicy(policy_object);
    ASSERT_TRUE(policy.ok()) << policy.status();
    op::RenderContext context{.operator_namespace = "gpu-operator",
                              .gpuop_image = "registry.local/gpuop:0.5.0",
                              .driver_os_tag = "debian12",
                              .any_container_gpu_node = true};
    // The operator's check of the chart's configs, and the copy the pods mount.
    const op::ConfigData data = config_map_["data"].get<op::ConfigData>();
    checked_ = op::CheckOperandConfigs(
        *policy, "gpu-operator", [&](const std::string& name) -> std::optional<op::ConfigData> {
          if (name == "plugin-configs") return data;
          return std::nullopt;
        });
    context.checked_device_plugin_configs = checked_.device_plugin;
    for (const op::RenderedState& state :
         op::RenderOperands(*policy, context, op::EmbeddedManifests())) {
      ASSERT_TRUE(state.error.ok()) << state.name << ": " << state.error;
      for (const json& object : state.objects) {
        if (object["metadata"].value("name", "") == "nvidia-device-plugin-daemonset") {
          pod_ = object["spec"]["template"]["spec"];
        }
        if (object["metadata"].value("name", "") == op::kCheckedDevicePluginConfigs) {
          copy_ = object;
        }
      }
    }
    ASSERT_TRUE(pod_.is_object()) << "the operator rendered no device plugin DaemonSet";
    dir_ = ScratchDir("plugin-configs");
  }

  // The config-manager init container's DEFAULT_CONFIG: what an unlabelled node gets.
  std::string DefaultConfig() const {
    if (!pod_.contains("initContainers")) return "";
    const json* init = FindNamed(pod_.at("initContainers"), "config-manager-init");
    EXPECT_NE(init, nullptr) << pod_.dump(2);
    return init == nullptr ? "" : LiteralEnv(*init)["DEFAULT_CONFIG"];
  }

  // The plugin container's env, the host driver's roots from driver-ready, and the config-manager's
  // copy of config `key` of the ConfigMap the pod mounts (the operator's checked copy).
  std::map<std::string, std::string> PluginEnv(const std::string& key) {
    return PluginEnvWith(key, copy_["data"].value(key, ""));
  }

  // The same, with config `text` in place of the mounted one.
  std::map<std::string, std::string> PluginEnvWith(const std::string& key,
                                                   const std::string& text) {
    const json* main = FindNamed(pod_["containers"], "nvidia-device-plugin");
    EXPECT_NE(main, nullptr) << pod_.dump(2);
    std::map<std::string, std::string> env =
        main == nullptr ? std::map<std::string, std::string>{} : LiteralEnv(*main);
    EXPECT_EQ(env["CONFIG_FILE"], "/config/config.yaml") << "the DaemonSet reads no config file";
    const std::string path = dir_ + "/" + key + ".yaml";
    WriteFile(path, text);
    env["CONFIG_FILE"] = path;
    EXPECT_EQ(env["FAIL_ON_INIT_ERROR"], "true");
    env["FAIL_ON_INIT_ERROR"] = "false";
    env["NODE_NAME"] = "node-a";
    env["NVIDIA_DRIVER_ROOT"] = "/";
    env["DRIVER_ROOT_CTR_PATH"] = "/";
    return env;
  }

  json config_map_;
  op::CheckedConfigs checked_;
  json copy_;
  json policy_spec_;
  json pod_;
  std::string dir_;
};

TEST_F(UpstreamDevicePluginConfigTest, TheChartMakesTheConfigMapTheClusterPolicyNames) {
  EXPECT_EQ(config_map_["metadata"]["namespace"], "gpu-operator");
  EXPECT_EQ(config_map_["data"].size(), 3U);
  // The ClusterPolicy gets the name and the default only: create and data are not its fields.
  EXPECT_EQ(policy_spec_["devicePlugin"]["config"],
            (json{{"name", "plugin-configs"}, {"default", "time-sliced"}}));
  // The operator checks that ConfigMap, finds nothing wrong, copies it whole and mounts the copy
  // for the config-manager.
  EXPECT_THAT(checked_.problems, ::testing::IsEmpty());
  ASSERT_TRUE(copy_.is_object()) << "the operator rendered no checked copy";
  EXPECT_EQ(copy_["data"], config_map_["data"]);
  bool mounted = false;
  for (const json& volume : pod_["volumes"]) {
    mounted = mounted || volume.value("configMap", json::object()).value("name", "") ==
                             op::kCheckedDevicePluginConfigs;
  }
  EXPECT_TRUE(mounted) << pod_["volumes"].dump(2);
}

TEST_F(UpstreamDevicePluginConfigTest, AnUnlabelledNodesPluginRunsWithTheDefaultTimeSlicingConfig) {
  ASSERT_EQ(DefaultConfig(), "time-sliced");
  const PluginRun run = RunPlugin(PluginEnv(DefaultConfig()));
  EXPECT_TRUE(run.waited_for_devices) << run.log;
  EXPECT_EQ(run.exit_code, 0) << run.log;
  absl::StatusOr<json> config = ConfigItRunsWith(run.log);
  ASSERT_TRUE(config.ok()) << config.status() << "\n" << run.log;
  const json& slicing = (*config)["sharing"]["timeSlicing"];
  EXPECT_EQ(slicing["renameByDefault"], true);
  EXPECT_EQ(slicing["failRequestsGreaterThanOne"], true);
  ASSERT_EQ(slicing["resources"].size(), 1U) << config->dump(2);
  EXPECT_EQ(slicing["resources"][0]["name"], "nvidia.com/gpu");
  EXPECT_EQ(slicing["resources"][0]["replicas"], 4);
  // The DaemonSet's own settings reached it too.
  EXPECT_EQ((*config)["flags"]["mpsRoot"], "/run/nvidia/mps");
  EXPECT_EQ((*config)["flags"]["plugin"]["passDeviceSpecs"], true);
}

TEST_F(UpstreamDevicePluginConfigTest, ANodeLabelledMpsGetsThePluginRunningMps) {
  const PluginRun run = RunPlugin(PluginEnv("mps"));
  EXPECT_TRUE(run.waited_for_devices) << run.log;
  EXPECT_EQ(run.exit_code, 0) << run.log;
  absl::StatusOr<json> config = ConfigItRunsWith(run.log);
  ASSERT_TRUE(config.ok()) << config.status() << "\n" << run.log;
  ASSERT_EQ((*config)["sharing"]["mps"]["resources"].size(), 1U) << config->dump(2);
  EXPECT_EQ((*config)["sharing"]["mps"]["resources"][0]["replicas"], 2);
}

// A flag the plugin's env sets wins over the same flag in its config file. The DaemonSet sets
// MIG_STRATEGY from the policy's spec.mig.strategy (as NVIDIA's operator does), so a config's
// own flags.migStrategy does not take effect: the policy decides, for every node.
TEST_F(UpstreamDevicePluginConfigTest, APolicysMigStrategyWinsOverAConfigsOwn) {
  std::map<std::string, std::string> env = PluginEnv("mig-mixed");
  ASSERT_EQ(env["MIG_STRATEGY"], "single");
  const PluginRun run = RunPlugin(env);
  EXPECT_TRUE(run.waited_for_devices) << run.log;
  absl::StatusOr<json> config = ConfigItRunsWith(run.log);
  ASSERT_TRUE(config.ok()) << config.status() << "\n" << run.log;
  EXPECT_EQ((*config)["flags"]["migStrategy"], "single");
}

// The control: a config the plugin cannot take is refused by the plugin itself, so the runs
// above prove it read each file rather than ignored it.
TEST_F(UpstreamDevicePluginConfigTest, ThePluginRefusesAConfigItCannotRead) {
  const std::string one_replica =
      "version: v1\nsharing:\n  timeSlicing:\n    resources:\n"
      "      - name: nvidia.com/gpu\n        replicas: 1\n";
  const PluginRun run = RunPlugin(PluginEnvWith("one-replica", one_replica));
  EXPECT_FALSE(run.waited_for_devices) << run.log;
  EXPECT_THAT(run.log, HasSubstr("number of replicas must be >= 2")) << run.log;
}

// The operator's check (device_plugin_config_check.h) and the real plugin agree: what the check
// lets into the copy, the plugin runs with; what it keeps out, the plugin refuses too, except
// where the check is stricter on purpose (`ours_only`): there the plugin would start and
// silently do something other than the file says.
TEST_F(UpstreamDevicePluginConfigTest, TheOperatorsCheckRefusesWhatThePluginRefuses) {
  const struct {
    const char* name;
    const char* text;
    bool ours_only;
  } cases[] = {
      {"one-replica",
       "version: v1\nsharing:\n  timeSlicing:\n    resources:\n"
       "      - name: nvidia.com/gpu\n        replicas: 1\n",
       false},
      {"misspelt-key",
       "version: v1\nsharing:\n  timeSlicing:\n    resource:\n"
       "      - name: nvidia.com/gpu\n        replicas: 2\n",
       false},
      {"renamed-gpus",
       "version: v1\nsharing:\n  timeSlicing:\n    renameByDefault: true\n    resources:\n"
       "      - name: nvidia.com/gpu\n        replicas: 3\n        devices: [0]\n",
       false},
      {"null-time-slicing", "version: v1\nsharing:\n  timeSlicing:\n", false},
      {"null-mps", "version: v1\nsharing:\n  mps:\n", false},
      {"bad-uuid",
       "version: v1\nsharing:\n  timeSlicing:\n    resources:\n"
       "      - name: nvidia.com/gpu\n        replicas: 2\n        devices: [GPU-b1028956-cfa2]\n",
       false},
      {"uuids",
       "version: v1\nsharing:\n  timeSlicing:\n    resources:\n"
       "      - name: nvidia.com/gpu\n        replicas: 2\n        devices:\n"
       "          - GPU-b1028956-cfa2-0990-bf4a-5da9abb51763\n"
       "          - MIG-GPU-b1028956-cfa2-0990-bf4a-5da9abb51763/3/0\n",
       false},
      {"discovery", "version: v1\nflags:\n  deviceDiscoveryStrategy: gpu\n", false},
      {"imex-channel", "version: v1\nimex:\n  channelIDs: [1]\n", false},
      {"gfd-interval", "version: v1\nflags:\n  gfd:\n    sleepInterval: 1 minute\n", false},
      {"gfd-flags",
       "version: v1\nflags:\n  deviceDiscoveryStrategy: auto\n  gfd:\n"
       "    sleepInterval: 1m30s\nimex:\n  channelIDs: [0]\n",
       false},
      // What the operator's copy serves where the admin's config cannot be used.
      {"built-in", op::kBuiltInDevicePluginConfig, false},
      // The plugin takes MPS and drops the time-slicing without a word.
      {"both-sharings",
       "version: v1\nsharing:\n  timeSlicing:\n    resources:\n"
       "      - name: nvidia.com/gpu\n        replicas: 2\n"
       "  mps:\n    resources:\n      - name: nvidia.com/gpu\n        replicas: 2\n",
       true},
  };
  for (const auto& [name, text, ours_only] : cases) {
    SCOPED_TRACE(name);
    const absl::StatusOr<op::DevicePluginConfigSummary> checked = op::CheckDevicePluginConfig(text);
    const PluginRun run = RunPlugin(PluginEnvWith(name, text));
    if (ours_only) {
      EXPECT_FALSE(checked.ok());
      EXPECT_TRUE(run.waited_for_devices) << run.log;
    } else {
      EXPECT_EQ(run.waited_for_devices, checked.ok())
          << "the operator's check says " << checked.status() << "\nthe plugin says:\n"
          << run.log;
    }
  }
}

TEST(DevicePluginConfigChart, RefusesAConfigMapItCannotMakeNamingTheKeyToFix) {
  common::ProcessResult no_name =
      Render("devicePlugin:\n  config:\n    create: true\n    data: {a: 'version: v1'}\n", {}, "");
  EXPECT_NE(no_name.exit_code, 0);
  EXPECT_THAT(no_name.err, HasSubstr("devicePlugin.config.name is empty"));
  common::ProcessResult no_data =
      Render("devicePlugin:\n  config:\n    create: true\n    name: c\n", {}, "");
  EXPECT_NE(no_data.exit_code, 0);
  EXPECT_THAT(no_data.err, HasSubstr("devicePlugin.config.data is empty"));
  common::ProcessResult unknown_default =
      Render(kValues, {"--set", "devicePlugin.config.default=shared"}, "");
  EXPECT_NE(unknown_default.exit_code, 0);
  EXPECT_THAT(unknown_default.err,
              HasSubstr("devicePlugin.config.default \"shared\" is not one of "
                        "devicePlugin.config.data's configs (mig-mixed, mps, time-sliced)"));
  // Without create, the ConfigMap is the admin's: the chart makes none.
  common::ProcessResult admins_own = Render("devicePlugin:\n  config:\n    name: theirs\n", {}, "");
  ASSERT_EQ(admins_own.exit_code, 0) << admins_own.err;
  EXPECT_THAT(admins_own.out, ::testing::Not(HasSubstr("device-plugin-config.yaml")));
}

}  // namespace
}  // namespace gpuop::testing
