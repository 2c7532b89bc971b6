// ParseClusterPolicy on objects as NVIDIA's chart renders them, and on malformed ones.

#include "api/cluster_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "api/names.h"

namespace gpuop::api {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// The shape `helm install gpu-operator ... --set sandboxWorkloads.enabled=true
// --set kataManager.enabled=true --set ccManager.enabled=true` produces (trimmed), with fields
// we do not read, which must not get in the way.
json SeedPolicy() {
  return json::parse(R"({
    "apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy",
    "metadata": {"name": "cluster-policy", "uid": "0b7c", "generation": 3,
                 "creationTimestamp": "2026-11-20T10:00:00Z"},
    "spec": {
      "operator": {"defaultRuntime": "containerd", "runtimeClass": "nvidia"},
      "daemonsets": {"priorityClassName": "system-node-critical", "tolerations": []},
      "driver": {"enabled": true, "repository": "nvcr.io/nvidia", "image": "driver",
                 "version": "570.124.06", "useOpenKernelModules": false},
      "toolkit": {"enabled": true}, "devicePlugin": {"enabled": true}, "dcgm": {"enabled": false},
      "dcgmExporter": {"enabled": true}, "gfd": {"enabled": true},
      "nodeStatusExporter": {"enabled": false},
      "sandboxWorkloads": {"enabled": true, "defaultWorkload": "vm-passthrough", "mode": "kata"},
      "vfioManager": {"enabled": true, "repository": "nvcr.io/nvidia/cloud-native",
                      "image": "k8s-driver-manager", "version": "v0.12.0",
                      "driverManager": {"image": "k8s-driver-manager"},
                      "env": [{"name": "BIND_NVSWITCHES", "value": "false"}]},
      "ccManager": {"enabled": true, "defaultMode": "on", "imagePullSecrets": ["ngc"],
                    "resources": {"limits": {"memory": "200Mi"}}, "args": ["--verbose"]},
      "kataManager": {"enabled": true, "config": {
        "artifactsDir": "/opt/nvidia-gpu-operator/artifacts/runtimeclasses",
        "runtimeClasses": [
          {"name": "kata-nvidia-gpu", "nodeSelector": {},
           "artifacts": {"url": "nvcr.io/nvidia/cloud-native/kata-gpu-artifacts:ubuntu22.04-535.54.03"}},
          {"name": "kata-nvidia-gpu-snp", "nodeSelector": {"nvidia.com/cc.capable": "true"},
           "artifacts": {"url": "nvcr.io/nvidia/cloud-native/kata-gpu-artifacts:ubuntu22.04-535.86.10-snp",
                         "pullSecret": "ngc"}},
          {"name": "", "artifacts": {"url": "dropped"}}]}},
      "sandboxDevicePlugin": {"enabled": true},
      "kataSandboxDevicePlugin": {"enabled": true},
      "nfd": {"nodefeaturerules": true},
      "someFutureField": {"x": 1}
    },
    "status": {"state": "ready"}
  })");
}

TEST(ParseClusterPolicy, ReadsWhatTheSeedsSet) {
  auto policy = ParseClusterPolicy(SeedPolicy());
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->name, "cluster-policy");
  EXPECT_EQ(policy->generation, 3);
  EXPECT_TRUE(policy->sandbox_enabled);
  EXPECT_EQ(policy->default_workload, Workload::kVmPassthrough);
  EXPECT_EQ(policy->sandbox_mode, SandboxMode::kKata);
  EXPECT_EQ(policy->cc_default_mode, "on");
  EXPECT_TRUE(policy->OperandEnabled("vfioManager"));
  EXPECT_FALSE(policy->OperandEnabled("dcgm", true));
  EXPECT_TRUE(policy->OperandEnabled("validator", true));  // Absent: the default.
  const OperandSpec* vfio = policy->Operand("vfioManager");
  ASSERT_NE(vfio, nullptr);
  EXPECT_EQ(vfio->image, "k8s-driver-manager");
  EXPECT_EQ(vfio->env[0]["name"], "BIND_NVSWITCHES");
  const OperandSpec* cc = policy->Operand("ccManager");
  EXPECT_EQ(cc->image_pull_secrets, std::vector<std::string>{"ngc"});
  EXPECT_EQ(cc->resources["limits"]["memory"], "200Mi");
  EXPECT_EQ(cc->args, std::vector<std::string>{"--verbose"});
  ASSERT_EQ(policy->kata_runtime_classes.size(), 2u);  // The nameless one is dropped.
  EXPECT_EQ(policy->kata_runtime_classes[1].name, "kata-nvidia-gpu-snp");
  EXPECT_EQ(policy->kata_runtime_classes[1].node_selector.at("nvidia.com/cc.capable"), "true");
  EXPECT_EQ(policy->kata_runtime_classes[1].artifacts_pull_secret, "ngc");
  EXPECT_TRUE(policy->nfd_node_feature_rules);
}

TEST(ParseClusterPolicy, AnEmptySpecMeansNvidiasDefaults) {
  auto policy = ParseClusterPolicy(json::parse(R"({"metadata": {"name": "p"}, "spec": {}})"));
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_FALSE(policy->sandbox_enabled);
  EXPECT_EQ(policy->default_workload, Workload::kContainer);
  EXPECT_EQ(policy->sandbox_mode, SandboxMode::kKubevirt);
  EXPECT_EQ(policy->cc_default_mode, "");
  EXPECT_EQ(policy->kata_artifacts_dir, "/opt/nvidia-gpu-operator/artifacts/runtimeclasses");
  EXPECT_FALSE(policy->OperandEnabled("vfioManager"));
  EXPECT_EQ(policy->host_root_fs, "/");
}

// The container path's nil defaults, as NVIDIA's operator reads an object that leaves them out.
TEST(ParseClusterPolicy, AnEmptySpecGivesTheContainerPathNvidiasNilDefaults) {
  auto policy = ParseClusterPolicy(json::parse(R"({"metadata": {"name": "p"}, "spec": {}})"));
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_FALSE(policy->driver.use_precompiled);
  EXPECT_EQ(policy->driver.kernel_module_type, "auto");
  EXPECT_FALSE(policy->driver.rdma_enabled);
  EXPECT_FALSE(policy->driver.rdma_use_host_mofed);
  EXPECT_TRUE(policy->driver.manager.image.empty());  // kDefaultDriverManagerImage applies.
  EXPECT_EQ(policy->driver.manager.env, json::array());
  EXPECT_EQ(policy->driver.repo_config_map, "");
  EXPECT_EQ(policy->driver.cert_config_name, "");
  EXPECT_EQ(policy->driver.licensing_config_map, "");
  EXPECT_EQ(policy->driver.licensing_secret, "");
  EXPECT_TRUE(policy->driver.licensing_nls_enabled);
  EXPECT_EQ(policy->driver.kernel_module_config_name, "");
  for (const json* env : {&policy->validator_steps.driver, &policy->validator_steps.toolkit,
                          &policy->validator_steps.cuda, &policy->validator_steps.plugin}) {
    EXPECT_EQ(*env, json::array());
  }
  EXPECT_EQ(policy->toolkit_install_dir, "/usr/local/nvidia");
  EXPECT_EQ(policy->device_plugin_config_name, "");
  EXPECT_EQ(policy->device_plugin_config_default, "");
  EXPECT_EQ(policy->device_plugin_mps_root, "/run/nvidia/mps");
  EXPECT_TRUE(policy->cdi_enabled);
  EXPECT_EQ(policy->driver_install_dir, "/run/nvidia/driver");
  // NVIDIA's CRD has no default strategy (its chart writes single): none is passed on.
  EXPECT_EQ(policy->mig_strategy, "");
  EXPECT_TRUE(policy->OperandEnabled("driver", true));
  EXPECT_TRUE(policy->OperandEnabled("toolkit", true));
  EXPECT_TRUE(policy->OperandEnabled("devicePlugin", true));
  EXPECT_TRUE(policy->OperandEnabled("gfd", true));
}

// The container-path sections as NVIDIA's chart renders them with every setting changed.
TEST(ParseClusterPolicy, ReadsTheContainerPathFields) {
  json object = SeedPolicy();
  json& spec = object["spec"];
  spec["driver"] = json::parse(R"({
    "enabled": false, "repository": "registry.local/nvidia", "image": "driver",
    "version": "595.91.07", "usePrecompiled": true, "kernelModuleType": "open",
    "rdma": {"enabled": true, "useHostMofed": true},
    "manager": {"repository": "registry.local/cloud-native", "image": "k8s-driver-manager",
                "version": "v0.12.0", "imagePullPolicy": "Always",
                "env": [{"name": "ENABLE_AUTO_DRAIN", "value": "true"}]},
    "repoConfig": {"configMapName": "repo-config"}, "certConfig": {"name": "certs"},
    "licensingConfig": {"configMapName": "licensing", "secretName": "licensing-token",
                        "nlsEnabled": false},
    "kernelModuleConfig": {"name": "kernel-module-params"},
    "upgradePolicy": {"autoUpgrade": true}})");
  spec["validator"] = json::parse(R"({
    "driver": {"env": [{"name": "DISABLE_DEV_CHAR_SYMLINK_CREATION", "value": "true"}]},
    "toolkit": {"env": [{"name": "A", "value": "1"}]},
    "cuda": {"env": [{"name": "B", "value": "2"}]},
    "plugin": {"env": [{"name": "WITH_WORKLOAD", "value": "false"}]}})");
  spec["toolkit"] = {{"enabled", true}, {"installDir", "/opt/nvidia//"}};
  spec["devicePlugin"] = json::parse(R"({"enabled": true,
    "config": {"name": "time-slicing", "default": "tesla-t4_2.x"},
    "mps": {"root": "/var/run/nvidia/mps"}})");
  spec["cdi"] = {{"enabled", false}, {"default", true}};
  spec["hostPaths"] = {{"rootFS", "/"}, {"driverInstallDir", "/opt/nvidia/driver/"}};
  spec["mig"] = {{"strategy", "mixed"}};
  auto policy = ParseClusterPolicy(object);
  ASSERT_TRUE(policy.ok()) << policy.status();

  EXPECT_FALSE(policy->OperandEnabled("driver", true));
  EXPECT_EQ(policy->Operand("driver")->repository, "registry.local/nvidia");
  EXPECT_TRUE(policy->driver.use_precompiled);
  EXPECT_EQ(policy->driver.kernel_module_type, "open");
  EXPECT_TRUE(policy->driver.rdma_enabled);
  EXPECT_TRUE(policy->driver.rdma_use_host_mofed);
  EXPECT_EQ(policy->driver.manager.repository, "registry.local/cloud-native");
  EXPECT_EQ(policy->driver.manager.image, "k8s-driver-manager");
  EXPECT_EQ(policy->driver.manager.version, "v0.12.0");
  EXPECT_EQ(policy->driver.manager.image_pull_policy, "Always");
  EXPECT_EQ(policy->driver.manager.env[0]["name"], "ENABLE_AUTO_DRAIN");
  EXPECT_EQ(policy->driver.repo_config_map, "repo-config");
  EXPECT_EQ(policy->driver.cert_config_name, "certs");
  EXPECT_EQ(policy->driver.licensing_config_map, "licensing");
  EXPECT_EQ(policy->driver.licensing_secret, "licensing-token");
  EXPECT_FALSE(policy->driver.licensing_nls_enabled);
  EXPECT_EQ(policy->driver.kernel_module_config_name, "kernel-module-params");
  EXPECT_EQ(policy->validator_steps.driver[0]["name"], "DISABLE_DEV_CHAR_SYMLINK_CREATION");
  EXPECT_EQ(policy->validator_steps.toolkit[0]["value"], "1");
  EXPECT_EQ(policy->validator_steps.cuda[0]["value"], "2");
  EXPECT_EQ(policy->validator_steps.plugin[0]["name"], "WITH_WORKLOAD");
  EXPECT_EQ(policy->toolkit_install_dir, "/opt/nvidia");  // Repeated and trailing '/' dropped.
  EXPECT_EQ(policy->device_plugin_config_name, "time-slicing");
  EXPECT_EQ(policy->device_plugin_config_default, "tesla-t4_2.x");
  EXPECT_EQ(policy->device_plugin_mps_root, "/var/run/nvidia/mps");
  EXPECT_FALSE(policy->cdi_enabled);
  EXPECT_EQ(policy->driver_install_dir, "/opt/nvidia/driver");
  EXPECT_EQ(policy->mig_strategy, "mixed");
}

TEST(ParseClusterPolicy, ReadsEachMigStrategyAndKernelModuleType) {
  for (const char* strategy : {"none", "single", "mixed"}) {
    json object = SeedPolicy();
    object["spec"]["mig"] = {{"strategy", strategy}};
    auto policy = ParseClusterPolicy(object);
    ASSERT_TRUE(policy.ok()) << policy.status();
    EXPECT_EQ(policy->mig_strategy, strategy);
  }
  for (const char* type : {"auto", "open", "proprietary"}) {
    json object = SeedPolicy();
    object["spec"]["driver"]["kernelModuleType"] = type;
    auto policy = ParseClusterPolicy(object);
    ASSERT_TRUE(policy.ok()) << policy.status();
    EXPECT_EQ(policy->driver.kernel_module_type, type);
  }
}

TEST(ParseClusterPolicy, CdiIsOnUnlessTheSpecTurnsItOff) {
  json object = SeedPolicy();
  object["spec"]["cdi"] = json::object();
  EXPECT_TRUE(ParseClusterPolicy(object)->cdi_enabled);
  object["spec"]["cdi"]["enabled"] = nullptr;
  EXPECT_TRUE(ParseClusterPolicy(object)->cdi_enabled);
  object["spec"]["cdi"]["enabled"] = true;
  EXPECT_TRUE(ParseClusterPolicy(object)->cdi_enabled);
  // cdi.default is deprecated and ignored, whatever it holds.
  object["spec"]["cdi"]["default"] = "yes";
  ASSERT_TRUE(ParseClusterPolicy(object).ok());
  object["spec"]["cdi"]["enabled"] = false;
  EXPECT_FALSE(ParseClusterPolicy(object)->cdi_enabled);
}

TEST(ParseClusterPolicy, ReadsTheHostRootFs) {
  json object = SeedPolicy();
  object["spec"]["hostPaths"] = {{"rootFS", "/var/lib/sim-node"}, {"driverInstallDir", "/x"}};
  auto policy = ParseClusterPolicy(object);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->host_root_fs, "/var/lib/sim-node");
}

struct BadField {
  const char* pointer;  // JSON pointer of the field to replace
  json value;
  const char* message;  // what the error must say
};

TEST(ParseClusterPolicy, AMalformedFieldIsAnErrorNamingIt) {
  for (const BadField& bad : std::vector<BadField>{
           {"/spec/sandboxWorkloads/defaultWorkload", "vm-pass",
            "spec.sandboxWorkloads.defaultWorkload: \"vm-pass\" is not one of container, "
            "vm-passthrough, vm-vgpu"},
           {"/spec/sandboxWorkloads/mode", "firecracker", "spec.sandboxWorkloads.mode"},
           {"/spec/sandboxWorkloads/enabled", "yes", "spec.sandboxWorkloads.enabled: is not true"},
           {"/spec/ccManager/defaultMode", "maybe", "spec.ccManager.defaultMode"},
           {"/spec/vfioManager/imagePullSecrets", "ngc", "spec.vfioManager.imagePullSecrets"},
           {"/spec/vfioManager/env", json::array({json{{"value", "x"}}}),
            "spec.vfioManager.env: has an entry without a name"},
           {"/spec/kataManager/config/runtimeClasses/1/nodeSelector", json{{"a", 1}},
            "spec.kataManager.config.runtimeClasses[1].nodeSelector[\"a\"]: is not a string"},
           {"/spec/kataManager/config/artifactsDir", "relative/dir", "is not an absolute path"},
           {"/spec/hostPaths", json{{"rootFS", "host"}},
            "spec.hostPaths.rootFS: is not an absolute path"},
           {"/spec/sandboxWorkloads", 7, "spec.sandboxWorkloads: is not an object"},
           {"/spec/daemonsets/tolerations", "all", "spec.daemonsets.tolerations: is not a list"},
           {"/spec/daemonsets/updateStrategy", "Recreate", "spec.daemonsets.updateStrategy"},
           {"/spec/daemonsets/rollingUpdate", json{{"maxUnavailable", true}},
            "spec.daemonsets.rollingUpdate.maxUnavailable: is not a number from 1"},
           {"/spec/daemonsets/rollingUpdate", json{{"maxUnavailable", "one"}},
            "spec.daemonsets.rollingUpdate.maxUnavailable: is not a number from 1"},
           {"/spec/daemonsets/rollingUpdate", json{{"maxUnavailable", 0}},
            "spec.daemonsets.rollingUpdate.maxUnavailable: is not a number from 1"},
           {"/spec/daemonsets/rollingUpdate", json{{"maxUnavailable", "0%"}},
            "spec.daemonsets.rollingUpdate.maxUnavailable"},
           {"/spec/daemonsets/rollingUpdate", json{{"maxUnavailable", "150%"}},
            "spec.daemonsets.rollingUpdate.maxUnavailable"},
           {"/spec/daemonsets/rollingUpdate", json{{"maxUnavailable", " 5%"}},
            "spec.daemonsets.rollingUpdate.maxUnavailable"},
           // Counts an IntOrString (int32) cannot hold, however they are written.
           {"/spec/daemonsets/rollingUpdate", json{{"maxUnavailable", "18446744073709551617"}},
            "spec.daemonsets.rollingUpdate.maxUnavailable: is not a number from 1 to 2147483647"},
           {"/spec/daemonsets/rollingUpdate", json{{"maxUnavailable", "2147483648"}},
            "spec.daemonsets.rollingUpdate.maxUnavailable"},
           {"/spec/daemonsets/rollingUpdate", json{{"maxUnavailable", int64_t{2147483648}}},
            "spec.daemonsets.rollingUpdate.maxUnavailable"},
           {"/spec/daemonsets/rollingUpdate",
            json{{"maxUnavailable", uint64_t{18446744073709551615ULL}}},
            "spec.daemonsets.rollingUpdate.maxUnavailable"},
           {"/spec/daemonsets/rollingUpdate",
            json{{"maxUnavailable", "99999999999999999999999999999999999999"}},
            "spec.daemonsets.rollingUpdate.maxUnavailable"},
           {"/spec/daemonsets/rollingUpdate", json{{"maxUnavailable", "18446744073709551617%"}},
            "spec.daemonsets.rollingUpdate.maxUnavailable"},
           // Names the Kata manager would refuse, so refusing its whole config.
           {"/spec/kataManager/config/runtimeClasses/0/name", "../../etc",
            "spec.kataManager.config.runtimeClasses[0].name: \"../../etc\" is not usable: a "
            "RuntimeClass handler is"},
           {"/spec/kataManager/config/runtimeClasses/0/name", "Kata_GPU",
            "spec.kataManager.config.runtimeClasses[0].name: \"Kata_GPU\""},
           {"/spec/kataManager/config/runtimeClasses/1/name", "evil\nkind: ClusterRole",
            "spec.kataManager.config.runtimeClasses[1].name: \"evil\\nkind: ClusterRole\""},
           {"/spec/kataManager/config/runtimeClasses/1/name", std::string(64, 'k'),
            "spec.kataManager.config.runtimeClasses[1].name"},
           {"/spec/kataManager/config/runtimeClasses/1/name", "kata-nvidia-gpu",
            "spec.kataManager.config.runtimeClasses[1].name: \"kata-nvidia-gpu\" appears twice"},
           {"/spec/operator/runtimeClass", "nvidia/../x", "spec.operator.runtimeClass"},
           // Pull secrets the Kata manager would be granted `get` on.
           {"/spec/kataManager/config/runtimeClasses/1/artifacts/pullSecret",
            "sh.helm.release.v1.gpuop.v3",
            "spec.kataManager.config.runtimeClasses[1].artifacts.pullSecret: "
            "\"sh.helm.release.v1.gpuop.v3\" is a Helm release record"},
           {"/spec/kataManager/config/runtimeClasses/1/artifacts/pullSecret", "ngc/../x",
            "spec.kataManager.config.runtimeClasses[1].artifacts.pullSecret: \"ngc/../x\" is not "
            "a Secret name"},
           // The container path.
           {"/spec/driver/usePrecompiled", "true", "spec.driver.usePrecompiled: is not true"},
           {"/spec/driver/kernelModuleType", "nouveau",
            "spec.driver.kernelModuleType: \"nouveau\" is not one of auto, open, proprietary"},
           {"/spec/driver/kernelModuleType", 1, "spec.driver.kernelModuleType: is not a string"},
           {"/spec/driver/rdma", true, "spec.driver.rdma: is not an object"},
           {"/spec/driver/rdma/enabled", "yes", "spec.driver.rdma.enabled: is not true"},
           {"/spec/driver/rdma/useHostMofed", 1, "spec.driver.rdma.useHostMofed: is not true"},
           {"/spec/driver/manager", "k8s-driver-manager", "spec.driver.manager: is not an object"},
           {"/spec/driver/manager/version", 12, "spec.driver.manager.version: is not a string"},
           {"/spec/driver/manager/imagePullSecrets", "ngc",
            "spec.driver.manager.imagePullSecrets: is not a list"},
           {"/spec/driver/manager/env", json{{"name", "A"}},
            "spec.driver.manager.env: is not a list of {name, value}"},
           {"/spec/driver/manager/env", json::array({json{{"name", 1}}}),
            "spec.driver.manager.env: has an entry without a name"},
           {"/spec/driver/repoConfig/configMapName", "Repo_Config",
            "spec.driver.repoConfig.configMapName: \"Repo_Config\" is not a ConfigMap name"},
           {"/spec/driver/repoConfig", "repo", "spec.driver.repoConfig: is not an object"},
           {"/spec/driver/certConfig/name", "../certs",
            "spec.driver.certConfig.name: \"../certs\" is not a ConfigMap name"},
           {"/spec/driver/licensingConfig/configMapName", "a b",
            "spec.driver.licensingConfig.configMapName: \"a b\" is not a ConfigMap name"},
           {"/spec/driver/licensingConfig/secretName", "token/x",
            "spec.driver.licensingConfig.secretName: \"token/x\" is not a Secret name"},
           {"/spec/driver/licensingConfig/nlsEnabled", "false",
            "spec.driver.licensingConfig.nlsEnabled: is not true or false"},
           {"/spec/driver/kernelModuleConfig/name", "-params",
            "spec.driver.kernelModuleConfig.name: \"-params\" is not a ConfigMap name"},
           {"/spec/validator/driver/env", json::array({json{{"value", "x"}}}),
            "spec.validator.driver.env: has an entry without a name"},
           {"/spec/validator/toolkit/env", "A=1",
            "spec.validator.toolkit.env: is not a list of {name, value}"},
           {"/spec/validator/cuda/env", json::array({"B=2"}),
            "spec.validator.cuda.env: has an entry without a name"},
           {"/spec/validator/plugin/env", json{{"WITH_WORKLOAD", "true"}},
            "spec.validator.plugin.env: is not a list of {name, value}"},
           {"/spec/validator/plugin", json::array(), "spec.validator.plugin: is not an object"},
           {"/spec/toolkit/installDir", "usr/local/nvidia",
            "spec.toolkit.installDir: is not an absolute path"},
           {"/spec/toolkit/installDir", "/usr/local/../../etc",
            "spec.toolkit.installDir: holds \"..\""},
           {"/spec/toolkit/installDir", true, "spec.toolkit.installDir: is not a string"},
           {"/spec/devicePlugin/config/name", "Time-Slicing",
            "spec.devicePlugin.config.name: \"Time-Slicing\" is not a ConfigMap name"},
           {"/spec/devicePlugin/config/default", "../a100",
            "spec.devicePlugin.config.default: \"../a100\" is not a ConfigMap key"},
           {"/spec/devicePlugin/config/default", "..",
            "spec.devicePlugin.config.default: \"..\" is not a ConfigMap key"},
           {"/spec/devicePlugin/config", "time-slicing",
            "spec.devicePlugin.config: is not an object"},
           {"/spec/devicePlugin/mps/root", "run/nvidia/mps",
            "spec.devicePlugin.mps.root: is not an absolute path"},
           {"/spec/devicePlugin/mps/root", "/run/nvidia/../../dev",
            "spec.devicePlugin.mps.root: holds \"..\""},
           {"/spec/cdi/enabled", "true", "spec.cdi.enabled: is not true or false"},
           {"/spec/cdi", true, "spec.cdi: is not an object"},
           {"/spec/hostPaths", json{{"driverInstallDir", "run/nvidia/driver"}},
            "spec.hostPaths.driverInstallDir: is not an absolute path"},
           {"/spec/hostPaths", json{{"driverInstallDir", "/run/nvidia/.."}},
            "spec.hostPaths.driverInstallDir: holds \"..\""},
           {"/spec/mig/strategy", "all",
            "spec.mig.strategy: \"all\" is not one of none, single, mixed"},
           {"/spec/mig/strategy", "Single", "spec.mig.strategy: \"Single\" is not one of"},
           {"/spec/mig", "single", "spec.mig: is not an object"},
       }) {
    json object = SeedPolicy();
    object[json::json_pointer(bad.pointer)] = bad.value;
    auto policy = ParseClusterPolicy(object);
    ASSERT_FALSE(policy.ok()) << bad.pointer;
    EXPECT_TRUE(absl::IsInvalidArgument(policy.status()));
    EXPECT_THAT(std::string(policy.status().message()), HasSubstr(bad.message)) << bad.pointer;
    EXPECT_THAT(std::string(policy.status().message()), HasSubstr("ClusterPolicy cluster-policy"));
  }
}

TEST(ParseClusterPolicy, ReadsTheClusterWideDaemonSetSettingsAndRuntimeClass) {
  json object = SeedPolicy();
  object["spec"]["daemonsets"] = json::parse(R"({
    "labels": {"team": "gpu"}, "annotations": {"a": "b"},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
    "priorityClassName": "system-node-critical", "updateStrategy": "OnDelete",
    "rollingUpdate": {"maxUnavailable": "1"}})");
  object["spec"]["operator"]["runtimeClass"] = "nvidia-cdi";
  auto policy = ParseClusterPolicy(object);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->daemonsets.labels.at("team"), "gpu");
  EXPECT_EQ(policy->daemonsets.annotations.at("a"), "b");
  EXPECT_EQ(policy->daemonsets.tolerations.size(), 1u);
  EXPECT_EQ(policy->daemonsets.priority_class_name, "system-node-critical");
  EXPECT_EQ(policy->daemonsets.update_strategy, "OnDelete");
  // NVIDIA's Helm default "1" is a count: the DaemonSet API refuses a string that is not "N%"
  // (found by the e2e install: 422 from every DaemonSet).
  EXPECT_EQ(policy->daemonsets.max_unavailable, json(1));
  object["spec"]["daemonsets"]["rollingUpdate"]["maxUnavailable"] = "25%";
  EXPECT_EQ(ParseClusterPolicy(object)->daemonsets.max_unavailable, json("25%"));
  EXPECT_EQ(policy->container_runtime_class, "nvidia-cdi");
  EXPECT_EQ(ParseClusterPolicy(json::parse(R"({"spec": {}})"))->container_runtime_class, "nvidia");
}

TEST(ParseClusterPolicy, TheLargestCountAnIntOrStringHoldsIsAccepted) {
  json object = SeedPolicy();
  object["spec"]["daemonsets"]["rollingUpdate"]["maxUnavailable"] = "2147483647";
  auto policy = ParseClusterPolicy(object);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->daemonsets.max_unavailable, json(2147483647));
  object["spec"]["daemonsets"]["rollingUpdate"]["maxUnavailable"] = uint64_t{2147483647};
  policy = ParseClusterPolicy(object);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->daemonsets.max_unavailable, json(2147483647));
  object["spec"]["daemonsets"]["rollingUpdate"]["maxUnavailable"] = "007";  // As Go's Atoi.
  EXPECT_EQ(ParseClusterPolicy(object)->daemonsets.max_unavailable, json(7));
}

TEST(ParseClusterPolicy, AnEntryWithoutANameOrUrlIsDroppedWhateverItsOtherFields) {
  // NVIDIA's sanitiser drops these; what is dropped is not rendered, so it need not be valid.
  json object = SeedPolicy();
  object["spec"]["kataManager"]["config"]["runtimeClasses"].push_back(
      {{"name", "../../etc"}, {"artifacts", {{"pullSecret", "sh.helm.release.v1.gpuop.v1"}}}});
  auto policy = ParseClusterPolicy(object);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->kata_runtime_classes.size(), 2u);
}

TEST(Names, RuntimeClassNamesAreDnsLabelsAsTheHandlerNeeds) {
  for (const char* good : {"kata-qemu-nvidia-gpu", "a", "0", "k8s-1"}) {
    EXPECT_TRUE(IsRuntimeClassName(good)) << good;
  }
  EXPECT_TRUE(IsRuntimeClassName(std::string(63, 'a')));
  for (const char* bad :
       {"", "-a", "a-", "Kata", "kata_gpu", "a.b", "../../etc", "a/b", "a b", "a\nb"}) {
    EXPECT_FALSE(IsRuntimeClassName(bad)) << bad;
  }
  EXPECT_FALSE(IsRuntimeClassName(std::string(64, 'a')));
}

TEST(Names, SecretNamesAreDnsSubdomains) {
  for (const char* good :
       {"ngc", "registry-cred", "a.b", "sh.helm.release.v1.gpuop.v1", "a--b", "0.0"}) {
    EXPECT_TRUE(IsDnsSubdomain(good)) << good;
  }
  EXPECT_TRUE(IsDnsSubdomain(std::string(253, 'a')));
  for (const char* bad :
       {"", ".", "a.", ".a", "a..b", "a-.b", "a.-b", "-a", "a-", "A", "a_b", "a/b", "../x"}) {
    EXPECT_FALSE(IsDnsSubdomain(bad)) << bad;
  }
  EXPECT_FALSE(IsDnsSubdomain(std::string(254, 'a')));
}

TEST(ParseClusterPolicy, PpcieIsAcceptedAsADefaultMode) {
  json object = SeedPolicy();
  object["spec"]["ccManager"]["defaultMode"] = "ppcie";
  auto policy = ParseClusterPolicy(object);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->cc_default_mode, "ppcie");
}

TEST(ParseClusterPolicy, ReadsPsaEnabledAsNvidiasChartSetsIt) {
  json object = SeedPolicy();
  auto policy = ParseClusterPolicy(object);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_FALSE(policy->psa_enabled);  // Absent: NVIDIA's default.
  object["spec"]["psa"] = {{"enabled", true}};
  policy = ParseClusterPolicy(object);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE(policy->psa_enabled);
  object["spec"]["psa"]["enabled"] = false;
  policy = ParseClusterPolicy(object);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_FALSE(policy->psa_enabled);
  object["spec"]["psa"] = json::object();
  policy = ParseClusterPolicy(object);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_FALSE(policy->psa_enabled);
}

TEST(ParseClusterPolicy, APsaEnabledThatIsNotABoolIsRefusedNamingTheField) {
  for (const json& bad : {json("true"), json(1), json::array({true})}) {
    json object = SeedPolicy();
    object["spec"]["psa"] = {{"enabled", bad}};
    auto policy = ParseClusterPolicy(object);
    ASSERT_FALSE(policy.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(policy.status()));
    EXPECT_THAT(std::string(policy.status().message()),
                HasSubstr("spec.psa.enabled: is not true or false"));
  }
  json object = SeedPolicy();
  object["spec"]["psa"] = "enabled";
  EXPECT_THAT(std::string(ParseClusterPolicy(object).status().message()),
              HasSubstr("spec.psa: is not an object"));
}

}  // namespace
}  // namespace gpuop::api
