// TransformContainerDaemonSet's rules shared by the container path's DaemonSets
// (spec.hostPaths.driverInstallDir, the validator's init containers, the RuntimeClass, MIG) and
// those of the validator, the device plugin and GFD. The driver's and the toolkit's own are in
// driver_operand_test.cc and toolkit_operand_test.cc.

#include "operator/container_operands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"

#include "operator/checked_configs.h"
#include "tests/fixtures/status_matchers.h"
#include "tests/unit/operator/container_daemonsets.h"

namespace gpuop::op {
namespace {

using ::gpuop::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace ::gpuop::op::testing;  // NOLINT(google-build-using-namespace): the fixtures.

constexpr char kDriverState[] = "state-driver";
constexpr char kToolkitState[] = "state-container-toolkit";
constexpr char kValidatorState[] = "state-operator-validation";
constexpr char kDevicePluginState[] = "state-device-plugin";
constexpr char kGfdState[] = "gpu-feature-discovery";

api::OperandSpec Enabled(bool enabled) {
  api::OperandSpec spec;
  spec.enabled = enabled;
  return spec;
}

TEST(ContainerOperands, RefusesAStateWithoutAContainerPathTransform) {
  json daemonset = DevicePluginDaemonSet();
  EXPECT_THAT(
      TransformContainerDaemonSet(daemonset, "state-vfio-manager", api::ClusterPolicy{}, Context()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("state-vfio-manager")));
}

TEST(ContainerOperands, ADaemonSetWithoutItsMainContainerIsAManifestBug) {
  json daemonset = DevicePluginDaemonSet();
  daemonset["spec"]["template"]["spec"]["containers"][0]["name"] = "plugin";
  EXPECT_THAT(
      TransformContainerDaemonSet(daemonset, kDevicePluginState, api::ClusterPolicy{}, Context()),
      StatusIs(absl::StatusCode::kInternal, HasSubstr("nvidia-device-plugin")));
  json no_pod = {{"kind", "DaemonSet"}, {"spec", {{"template", "none"}}}};
  EXPECT_THAT(TransformContainerDaemonSet(no_pod, kGfdState, api::ClusterPolicy{}, Context()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("pod template")));
}

TEST(DriverInstallDir, TheDefaultLeavesTheVolumeTheStepsEnvAndItsMountAlone) {
  const api::ClusterPolicy policy;
  for (const auto& [state, input] : {std::pair{kToolkitState, ToolkitDaemonSet()},
                                     std::pair{kValidatorState, ValidatorDaemonSet()}}) {
    SCOPED_TRACE(state);
    const json out = Transformed(input, state, policy);
    EXPECT_EQ(HostPath(out, "driver-install-dir"), "/run/nvidia/driver");
    const json& step = Named(out, "initContainers", "driver-validation");
    EXPECT_EQ(Env(step, "DRIVER_INSTALL_DIR"), "/run/nvidia/driver");
    EXPECT_EQ(Env(step, "DRIVER_INSTALL_DIR_CTR_PATH"), "/run/nvidia/driver");
    EXPECT_EQ(MountPath(step, "driver-install-dir"), "/run/nvidia/driver");
  }
}

TEST(DriverInstallDir, ACustomDirMovesTheVolumeAndTheDriverStepsEnvAndMount) {
  api::ClusterPolicy policy;
  policy.driver_install_dir = "/opt/nvidia/driver/";  // The trailing '/' is not part of it.
  for (const auto& [state, input] : {std::pair{kToolkitState, ToolkitDaemonSet()},
                                     std::pair{kValidatorState, ValidatorDaemonSet()}}) {
    SCOPED_TRACE(state);
    const json out = Transformed(input, state, policy);
    EXPECT_EQ(HostPath(out, "driver-install-dir"), "/opt/nvidia/driver");
    const json& step = Named(out, "initContainers", "driver-validation");
    EXPECT_EQ(Env(step, "DRIVER_INSTALL_DIR"), "/opt/nvidia/driver");
    EXPECT_EQ(Env(step, "DRIVER_INSTALL_DIR_CTR_PATH"), "/opt/nvidia/driver");
    EXPECT_EQ(MountPath(step, "driver-install-dir"), "/opt/nvidia/driver");
  }
  // The other containers keep finding the driver's root at /driver-root.
  const json toolkit = Transformed(ToolkitDaemonSet(), kToolkitState, policy);
  EXPECT_EQ(
      MountPath(Named(toolkit, "containers", "nvidia-container-toolkit-ctr"), "driver-install-dir"),
      "/driver-root");
  const json plugin = Transformed(DevicePluginDaemonSet(), kDevicePluginState, policy);
  EXPECT_EQ(HostPath(plugin, "driver-install-dir"), "/opt/nvidia/driver");
  EXPECT_EQ(MountPath(Named(plugin, "containers", "nvidia-device-plugin"), "driver-install-dir"),
            "/driver-root");
}

TEST(DriverInstallDir, APathTheApiWouldRefuseIsRefusedNamingTheField) {
  for (const char* dir : {"run/nvidia/driver", "/run/nvidia/../driver"}) {
    SCOPED_TRACE(dir);
    api::ClusterPolicy policy;
    policy.driver_install_dir = dir;
    json daemonset = ValidatorDaemonSet();
    EXPECT_THAT(
        TransformContainerDaemonSet(daemonset, kValidatorState, policy, Context()),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.hostPaths.driverInstallDir")));
  }
}

TEST(ValidationInitContainers, EachValidatorStepGetsItsOwnEnvFromSpecValidator) {
  api::ClusterPolicy policy;
  policy.validator_steps.driver = json::array({EnvVar("STEP", "driver")});
  policy.validator_steps.toolkit = json::array({EnvVar("STEP", "toolkit")});
  policy.validator_steps.cuda = json::array({EnvVar("STEP", "cuda")});
  policy.validator_steps.plugin = json::array({EnvVar("STEP", "plugin")});
  const json out = Transformed(ValidatorDaemonSet(), kValidatorState, policy);
  for (const char* step : {"driver", "toolkit", "cuda", "plugin"}) {
    EXPECT_EQ(Env(Named(out, "initContainers", std::string(step) + "-validation"), "STEP"), step);
  }
  EXPECT_EQ(Env(Named(out, "containers", "nvidia-operator-validator"), "STEP"), std::nullopt);
}

TEST(ValidationInitContainers, TheStepsEnvWinsOverWhatTheTransformSets) {
  api::ClusterPolicy policy;
  policy.driver_install_dir = "/opt/nvidia/driver";
  policy.validator_steps.driver = json::array({EnvVar("DRIVER_INSTALL_DIR_CTR_PATH", "/mnt/d"),
                                               EnvVar("OPERATOR_MANAGED_DRIVER", "false")});
  policy.validator_steps.plugin = json::array({EnvVar("MIG_STRATEGY", "mixed")});
  const json out = Transformed(ValidatorDaemonSet(), kValidatorState, policy);
  const json& driver = Named(out, "initContainers", "driver-validation");
  EXPECT_EQ(Env(driver, "DRIVER_INSTALL_DIR"), "/opt/nvidia/driver");
  EXPECT_EQ(Env(driver, "DRIVER_INSTALL_DIR_CTR_PATH"), "/mnt/d");
  EXPECT_EQ(Env(driver, "OPERATOR_MANAGED_DRIVER"), "false");
  EXPECT_EQ(Env(Named(out, "initContainers", "plugin-validation"), "MIG_STRATEGY"), "mixed");
}

TEST(ValidationInitContainers, OtherDaemonSetsWaitingForAStepGetThatStepsEnv) {
  api::ClusterPolicy policy;
  policy.validator_steps.driver = json::array({EnvVar("STEP", "driver")});
  policy.validator_steps.toolkit = json::array({EnvVar("STEP", "toolkit")});
  const json toolkit = Transformed(ToolkitDaemonSet(), kToolkitState, policy);
  EXPECT_EQ(Env(Named(toolkit, "initContainers", "driver-validation"), "STEP"), "driver");
  EXPECT_EQ(Env(Named(toolkit, "containers", "nvidia-container-toolkit-ctr"), "STEP"),
            std::nullopt);
  for (const auto& [state, input] : {std::pair{kDevicePluginState, DevicePluginDaemonSet()},
                                     std::pair{kGfdState, GfdDaemonSet()}}) {
    SCOPED_TRACE(state);
    const json out = Transformed(input, state, policy);
    EXPECT_EQ(Env(Named(out, "initContainers", "toolkit-validation"), "STEP"), "toolkit");
  }
}

TEST(ValidationInitContainers, TheValidatorsSecretsAndResourcesReachEveryValidationStep) {
  api::ClusterPolicy policy;
  api::OperandSpec validator;
  validator.image_pull_secrets = {"ngc", "mirror"};
  validator.resources = {{"limits", {{"memory", "200Mi"}}}};
  policy.operands["validator"] = validator;
  json input = DevicePluginDaemonSet();
  json& pod = input["spec"]["template"]["spec"];
  pod["imagePullSecrets"] = json::array({{{"name", "ngc"}}});
  pod["containers"][0]["resources"] = {{"limits", {{"memory", "1Gi"}}}};
  const json out = Transformed(input, kDevicePluginState, policy);
  EXPECT_EQ(PodSpec(out).at("imagePullSecrets"),
            json::array({{{"name", "ngc"}}, {{"name", "mirror"}}}));
  const json& step = Named(out, "initContainers", "toolkit-validation");
  EXPECT_EQ(step.at("resources"), validator.resources);
  // Root: the steps chroot into the host and write in a folder the kubelet owns.
  EXPECT_EQ(step.at("securityContext").at("runAsUser"), 0);
  EXPECT_EQ(Named(out, "containers", "nvidia-device-plugin").at("resources"),
            json({{"limits", {{"memory", "1Gi"}}}}));
}

TEST(ValidationInitContainers, WithoutAValidatorSectionTheirResourcesAndThePodsSecretsStay) {
  json input = GfdDaemonSet();
  input["spec"]["template"]["spec"]["initContainers"][0]["resources"] = {
      {"limits", {{"cpu", "1"}}}};
  const json out = Transformed(input, kGfdState, api::ClusterPolicy{});
  EXPECT_EQ(Named(out, "initContainers", "toolkit-validation").at("resources"),
            json({{"limits", {{"cpu", "1"}}}}));
  EXPECT_FALSE(PodSpec(out).contains("imagePullSecrets"));
}

TEST(RuntimeClass, ValidatorDevicePluginAndGfdRunUnderThePolicysClass) {
  api::ClusterPolicy policy;
  policy.container_runtime_class = "nvidia-gpu";
  for (const auto& [state, input] : {std::pair{kValidatorState, ValidatorDaemonSet()},
                                     std::pair{kDevicePluginState, DevicePluginDaemonSet()},
                                     std::pair{kGfdState, GfdDaemonSet()}}) {
    SCOPED_TRACE(state);
    EXPECT_EQ(PodSpec(Transformed(input, state, policy)).at("runtimeClassName"), "nvidia-gpu");
  }
  // The workload pods the validator starts run under it too.
  const json validator = Transformed(ValidatorDaemonSet(), kValidatorState, policy);
  for (const char* step : {"cuda-validation", "plugin-validation"}) {
    EXPECT_EQ(Env(Named(validator, "initContainers", step), "VALIDATOR_RUNTIME_CLASS"),
              "nvidia-gpu");
  }
}

TEST(RuntimeClass, CrioWithoutCdiHasNoHandlerSoThePodsNameNone) {
  api::ClusterPolicy policy;
  policy.cdi_enabled = false;
  for (const auto& [state, input] : {std::pair{kValidatorState, ValidatorDaemonSet()},
                                     std::pair{kDevicePluginState, DevicePluginDaemonSet()},
                                     std::pair{kGfdState, GfdDaemonSet()}}) {
    SCOPED_TRACE(state);
    EXPECT_FALSE(
        PodSpec(Transformed(input, state, policy, Context("crio"))).contains("runtimeClassName"));
    // Either one alone keeps it.
    EXPECT_EQ(
        PodSpec(Transformed(input, state, policy, Context("containerd"))).at("runtimeClassName"),
        "nvidia");
    EXPECT_EQ(PodSpec(Transformed(input, state, api::ClusterPolicy{}, Context("crio")))
                  .at("runtimeClassName"),
              "nvidia");
  }
  json validator = ValidatorDaemonSet();
  validator["spec"]["template"]["spec"]["initContainers"][2]["env"].push_back(
      EnvVar("VALIDATOR_RUNTIME_CLASS", "nvidia"));
  const json out = Transformed(validator, kValidatorState, policy, Context("crio"));
  EXPECT_EQ(Env(Named(out, "initContainers", "cuda-validation"), "VALIDATOR_RUNTIME_CLASS"),
            std::nullopt);
}

TEST(RuntimeClass, NeverOnTheDriverOrTheToolkit) {
  for (const auto& [state, input] :
       {std::pair{kDriverState, DriverDaemonSet()}, std::pair{kToolkitState, ToolkitDaemonSet()}}) {
    SCOPED_TRACE(state);
    json with_class = input;
    with_class["spec"]["template"]["spec"]["runtimeClassName"] = "nvidia";
    EXPECT_FALSE(
        PodSpec(Transformed(with_class, state, api::ClusterPolicy{})).contains("runtimeClassName"));
  }
}

TEST(RuntimeClass, ANameNoRuntimeHandlerCanHaveIsRefused) {
  api::ClusterPolicy policy;
  policy.container_runtime_class = "NVIDIA_gpu";
  json daemonset = GfdDaemonSet();
  EXPECT_THAT(
      TransformContainerDaemonSet(daemonset, kGfdState, policy, Context()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.operator.runtimeClass")));
}

TEST(MigStrategy, EachValueReachesTheDevicePluginAndGfd) {
  struct Case {
    const char* strategy;
    std::optional<std::string> mig_strategy;
    std::optional<std::string> monitor_devices;
  };
  const Case cases[] = {{"", std::nullopt, "all"},
                        {"none", "none", std::nullopt},
                        {"single", "single", "all"},
                        {"mixed", "mixed", "all"}};
  for (const Case& c : cases) {
    api::ClusterPolicy policy;
    policy.mig_strategy = c.strategy;
    for (const auto& [state, input, main] :
         {std::tuple{kDevicePluginState, DevicePluginDaemonSet(), "nvidia-device-plugin"},
          std::tuple{kGfdState, GfdDaemonSet(), "gpu-feature-discovery"}}) {
      SCOPED_TRACE(absl::StrCat(state, " strategy=\"", c.strategy, "\""));
      // What a manifest may hold does not outlive the policy's choice.
      json seeded = input;
      json& env = seeded["spec"]["template"]["spec"]["containers"][0]["env"];
      env.push_back(EnvVar("MIG_STRATEGY", "single"));
      env.push_back(EnvVar("NVIDIA_MIG_MONITOR_DEVICES", "all"));
      const json out = Transformed(seeded, state, policy);
      const json& container = Named(out, "containers", main);
      EXPECT_EQ(Env(container, "MIG_STRATEGY"), c.mig_strategy);
      EXPECT_EQ(Env(container, "NVIDIA_MIG_MONITOR_DEVICES"), c.monitor_devices);
    }
  }
}

TEST(MigStrategy, ThePluginStepLearnsTheStrategy) {
  api::ClusterPolicy policy;
  policy.mig_strategy = "mixed";
  EXPECT_EQ(Env(Named(Transformed(ValidatorDaemonSet(), kValidatorState, policy), "initContainers",
                      "plugin-validation"),
                "MIG_STRATEGY"),
            "mixed");
  policy.mig_strategy = "";
  EXPECT_EQ(Env(Named(Transformed(ValidatorDaemonSet(), kValidatorState, policy), "initContainers",
                      "plugin-validation"),
                "MIG_STRATEGY"),
            std::nullopt);
}

TEST(MigStrategy, AnUnknownStrategyIsRefusedNamingTheField) {
  api::ClusterPolicy policy;
  policy.mig_strategy = "all";
  for (const auto& [state, input] : {std::pair{kValidatorState, ValidatorDaemonSet()},
                                     std::pair{kDevicePluginState, DevicePluginDaemonSet()},
                                     std::pair{kGfdState, GfdDaemonSet()}}) {
    json daemonset = input;
    EXPECT_THAT(TransformContainerDaemonSet(daemonset, state, policy, Context()),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.mig.strategy")))
        << state;
  }
}

TEST(Validator, ThePluginStepIsDroppedOnlyWhenTheDevicePluginIsOff) {
  api::ClusterPolicy policy;
  EXPECT_THAT(Names(Transformed(ValidatorDaemonSet(), kValidatorState, policy), "initContainers"),
              ElementsAre("driver-validation", "toolkit-validation", "cuda-validation",
                          "plugin-validation"));
  policy.operands["devicePlugin"] = Enabled(true);
  EXPECT_THAT(Names(Transformed(ValidatorDaemonSet(), kValidatorState, policy), "initContainers"),
              ElementsAre("driver-validation", "toolkit-validation", "cuda-validation",
                          "plugin-validation"));
  policy.operands["devicePlugin"] = Enabled(false);
  EXPECT_THAT(Names(Transformed(ValidatorDaemonSet(), kValidatorState, policy), "initContainers"),
              ElementsAre("driver-validation", "toolkit-validation", "cuda-validation"));
}

TEST(Validator, TheDriverStepsKnowWhetherTheOperatorRunsTheDriver) {
  api::ClusterPolicy policy;
  for (const auto& [driver, expected] :
       {std::pair{std::optional<bool>(), "true"}, std::pair{std::optional<bool>(true), "true"},
        std::pair{std::optional<bool>(false), "false"}}) {
    policy.operands["driver"].enabled = driver;
    for (const auto& [state, input] : {std::pair{kValidatorState, ValidatorDaemonSet()},
                                       std::pair{kToolkitState, ToolkitDaemonSet()}}) {
      SCOPED_TRACE(state);
      EXPECT_EQ(Env(Named(Transformed(input, state, policy), "initContainers", "driver-validation"),
                    "OPERATOR_MANAGED_DRIVER"),
                expected);
    }
  }
}

TEST(Validator, TheWorkloadStepsPassOnThePullSecrets) {
  api::ClusterPolicy policy;
  const json without = Transformed(ValidatorDaemonSet(), kValidatorState, policy);
  EXPECT_EQ(
      Env(Named(without, "initContainers", "cuda-validation"), "VALIDATOR_IMAGE_PULL_SECRETS"),
      std::nullopt);
  policy.operands["validator"].image_pull_secrets = {"ngc", "mirror"};
  const json out = Transformed(ValidatorDaemonSet(), kValidatorState, policy);
  for (const char* step : {"cuda-validation", "plugin-validation"}) {
    EXPECT_EQ(Env(Named(out, "initContainers", step), "VALIDATOR_IMAGE_PULL_SECRETS"), "ngc,mirror")
        << step;
  }
  EXPECT_EQ(Env(Named(out, "initContainers", "driver-validation"), "VALIDATOR_IMAGE_PULL_SECRETS"),
            std::nullopt);
  EXPECT_EQ(PodSpec(out).at("imagePullSecrets"),
            json::array({{{"name", "ngc"}}, {{"name", "mirror"}}}));
}

const json& PluginOf(const json& daemonset) {
  return Named(daemonset, "containers", "nvidia-device-plugin");
}

TEST(DevicePlugin, CdiSwitchesTheListStrategyAndPointsAtTheToolkitsHook) {
  api::ClusterPolicy policy;
  const json out = Transformed(DevicePluginDaemonSet(), kDevicePluginState, policy);
  EXPECT_EQ(Env(PluginOf(out), "CDI_ENABLED"), "true");
  EXPECT_EQ(Env(PluginOf(out), "DEVICE_LIST_STRATEGY"), "cdi-annotations,cdi-cri");
  EXPECT_EQ(Env(PluginOf(out), "CDI_ANNOTATION_PREFIX"), "cdi.k8s.io/");
  EXPECT_EQ(Env(PluginOf(out), "NVIDIA_CDI_HOOK_PATH"),
            "/usr/local/nvidia/toolkit/nvidia-cdi-hook");

  policy.toolkit_install_dir = "/opt/nvidia/";
  EXPECT_EQ(Env(PluginOf(Transformed(DevicePluginDaemonSet(), kDevicePluginState, policy)),
                "NVIDIA_CDI_HOOK_PATH"),
            "/opt/nvidia/toolkit/nvidia-cdi-hook");
}

TEST(DevicePlugin, WithoutTheOperatorsToolkitThereIsNoHookToPointAt) {
  api::ClusterPolicy policy;
  policy.operands["toolkit"] = Enabled(false);
  const json out = Transformed(DevicePluginDaemonSet(), kDevicePluginState, policy);
  EXPECT_EQ(Env(PluginOf(out), "CDI_ENABLED"), "true");
  EXPECT_EQ(Env(PluginOf(out), "NVIDIA_CDI_HOOK_PATH"), std::nullopt);
}

TEST(DevicePlugin, WithoutCdiTheManifestsListStrategyStays) {
  api::ClusterPolicy policy;
  policy.cdi_enabled = false;
  const json out = Transformed(DevicePluginDaemonSet(), kDevicePluginState, policy);
  EXPECT_EQ(Env(PluginOf(out), "DEVICE_LIST_STRATEGY"), "envvar");
  for (const char* name : {"CDI_ENABLED", "CDI_ANNOTATION_PREFIX", "NVIDIA_CDI_HOOK_PATH"}) {
    EXPECT_EQ(Env(PluginOf(out), name), std::nullopt) << name;
  }
}

json ConfigManagerEnv(bool oneshot, const std::string& process) {
  json env = json::array({
      EnvVar("ONESHOT", oneshot ? "true" : "false"),
      EnvVar("KUBECONFIG", ""),
      {{"name", "NODE_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.nodeName"}}}}}},
      EnvVar("NODE_LABEL", "nvidia.com/device-plugin.config"),
      EnvVar("CONFIG_FILE_SRCDIR", "/available-configs"),
      EnvVar("CONFIG_FILE_DST", "/config/config.yaml"),
      EnvVar("DEFAULT_CONFIG", "a100-time-sliced"),
      EnvVar("FALLBACK_STRATEGIES", "empty"),
      EnvVar("SEND_SIGNAL", oneshot ? "false" : "true"),
  });
  if (!oneshot) {
    env.push_back(EnvVar("SIGNAL", "1"));
    env.push_back(EnvVar("PROCESS_TO_SIGNAL", process));
  }
  return env;
}

TEST(DevicePlugin, AConfigNameAddsConfigManagerBeforeAndBesideThePlugin) {
  api::ClusterPolicy policy;
  policy.device_plugin_config_name = "plugin-configs";
  policy.device_plugin_config_default = "a100-time-sliced";
  policy.operands["devicePlugin"].image_pull_policy = "Always";
  const json out = Transformed(DevicePluginDaemonSet(), kDevicePluginState, policy);

  EXPECT_THAT(Names(out, "initContainers"),
              ElementsAre("toolkit-validation", "config-manager-init"));
  EXPECT_THAT(Names(out, "containers"), ElementsAre("nvidia-device-plugin", "config-manager"));
  for (const auto& [list, name, oneshot] :
       {std::tuple{"initContainers", "config-manager-init", true},
        std::tuple{"containers", "config-manager", false}}) {
    SCOPED_TRACE(name);
    const json& container = Named(out, list, name);
    EXPECT_EQ(container.at("image"), kDevicePluginImage);
    EXPECT_EQ(container.at("imagePullPolicy"), "Always");
    EXPECT_EQ(container.at("command"), json::array({"config-manager"}));
    EXPECT_EQ(container.at("env"), ConfigManagerEnv(oneshot, "nvidia-device-plugin"));
    EXPECT_EQ(MountPath(container, "config"), "/config");
    EXPECT_EQ(MountPath(container, "device-plugin-configs"), "/available-configs");
  }
  EXPECT_EQ(Env(PluginOf(out), "CONFIG_FILE"), "/config/config.yaml");
  EXPECT_EQ(MountPath(PluginOf(out), "config"), "/config");
  EXPECT_EQ(MountPath(PluginOf(out), "device-plugin-configs"), "/available-configs");
  // The operator's checked copy of the admin's ConfigMap (checked_configs.h), never the original.
  EXPECT_EQ(Named(out, "volumes", "device-plugin-configs").at("configMap"),
            json({{"name", kCheckedDevicePluginConfigs}}));
  EXPECT_EQ(Named(out, "volumes", "config").at("emptyDir"), json::object());
  // The sidecar's SIGHUP must reach the plugin's process.
  EXPECT_EQ(PodSpec(out).at("shareProcessNamespace"), true);
}

TEST(DevicePlugin, ConfigManagerTakesTheSectionsImageAndResources) {
  api::ClusterPolicy policy;
  policy.device_plugin_config_name = "plugin-configs";
  api::OperandSpec& plugin = policy.operands["devicePlugin"];
  plugin.repository = "registry.local/nvidia";
  plugin.image = "k8s-device-plugin";
  plugin.version = "v0.21.0";
  plugin.resources = {{"requests", {{"cpu", "10m"}}}};
  const json out = Transformed(DevicePluginDaemonSet(), kDevicePluginState, policy);
  for (const auto& [list, name] : {std::pair{"initContainers", "config-manager-init"},
                                   std::pair{"containers", "config-manager"}}) {
    EXPECT_EQ(Named(out, list, name).at("image"), "registry.local/nvidia/k8s-device-plugin:v0.21.0")
        << name;
    EXPECT_EQ(Named(out, list, name).at("resources"), plugin.resources) << name;
  }
}

TEST(DevicePlugin, NoConfigNameMeansNoConfigManager) {
  json input = DevicePluginDaemonSet();
  // A sidecar left in a manifest goes too: nothing would fill its config.
  input["spec"]["template"]["spec"]["containers"].push_back(
      Container("config-manager", kDevicePluginImage, json::array(), json::array()));
  const json out = Transformed(input, kDevicePluginState, api::ClusterPolicy{});
  EXPECT_THAT(Names(out, "initContainers"), ElementsAre("toolkit-validation"));
  EXPECT_THAT(Names(out, "containers"), ElementsAre("nvidia-device-plugin"));
  EXPECT_EQ(Env(PluginOf(out), "CONFIG_FILE"), std::nullopt);
  EXPECT_FALSE(PodSpec(out).contains("shareProcessNamespace"));
  EXPECT_EQ(Names(out, "volumes"), Names(DevicePluginDaemonSet(), "volumes"));
}

TEST(DevicePlugin, AConfigMapNameTheApiWouldRefuseIsRefused) {
  api::ClusterPolicy policy;
  policy.device_plugin_config_name = "Plugin_Configs";
  json daemonset = DevicePluginDaemonSet();
  EXPECT_THAT(
      TransformContainerDaemonSet(daemonset, kDevicePluginState, policy, Context()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.devicePlugin.config.name")));
}

TEST(DevicePlugin, TheDefaultMpsRootLeavesTheMpsFoldersAlone) {
  const json out = Transformed(DevicePluginDaemonSet(), kDevicePluginState, api::ClusterPolicy{});
  EXPECT_EQ(HostPath(out, "mps-root"), "/run/nvidia/mps");
  EXPECT_EQ(HostPath(out, "mps-shm"), "/run/nvidia/mps/shm");
  EXPECT_EQ(Env(PluginOf(out), "MPS_ROOT"), "/run/nvidia/mps");
}

TEST(DevicePlugin, ACustomMpsRootMovesBothHostPathsAndMpsRoot) {
  api::ClusterPolicy policy;
  policy.device_plugin_mps_root = "/var/run/nvidia-mps";
  const json out = Transformed(DevicePluginDaemonSet(), kDevicePluginState, policy);
  EXPECT_EQ(HostPath(out, "mps-root"), "/var/run/nvidia-mps");
  EXPECT_EQ(HostPath(out, "mps-shm"), "/var/run/nvidia-mps/shm");
  EXPECT_EQ(Env(PluginOf(out), "MPS_ROOT"), "/var/run/nvidia-mps");
  EXPECT_EQ(MountPath(PluginOf(out), "mps-root"), "/mps");
  EXPECT_EQ(MountPath(PluginOf(out), "mps-shm"), "/dev/shm");

  policy.device_plugin_mps_root = "run/nvidia-mps";
  json daemonset = DevicePluginDaemonSet();
  EXPECT_THAT(
      TransformContainerDaemonSet(daemonset, kDevicePluginState, policy, Context()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.devicePlugin.mps.root")));
}

TEST(DevicePlugin, TheSectionsEnvWinsOverWhatTheTransformSets) {
  api::ClusterPolicy policy;
  policy.device_plugin_config_name = "plugin-configs";
  policy.operands["devicePlugin"].env =
      json::array({EnvVar("DEVICE_LIST_STRATEGY", "volume-mounts"), EnvVar("MIG_STRATEGY", "none"),
                   EnvVar("CONFIG_FILE", "/config/other.yaml")});
  const json out = Transformed(DevicePluginDaemonSet(), kDevicePluginState, policy);
  EXPECT_EQ(Env(PluginOf(out), "DEVICE_LIST_STRATEGY"), "volume-mounts");
  EXPECT_EQ(Env(PluginOf(out), "MIG_STRATEGY"), "none");
  EXPECT_EQ(Env(PluginOf(out), "CONFIG_FILE"), "/config/other.yaml");
}

TEST(Gfd, ConfigManagerSignalsGfdAndRunsTheDevicePluginsImage) {
  api::ClusterPolicy policy;
  policy.device_plugin_config_name = "plugin-configs";
  policy.device_plugin_config_default = "a100-time-sliced";
  json input = GfdDaemonSet();
  input["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.local/gfd:v1";
  api::OperandSpec& plugin = policy.operands["devicePlugin"];
  plugin.repository = "nvcr.io/nvidia";
  plugin.image = "k8s-device-plugin";
  plugin.version = "v0.20.0";
  const json out = Transformed(input, kGfdState, policy);
  EXPECT_THAT(Names(out, "initContainers"),
              ElementsAre("toolkit-validation", "config-manager-init"));
  EXPECT_THAT(Names(out, "containers"), ElementsAre("gpu-feature-discovery", "config-manager"));
  const json& sidecar = Named(out, "containers", "config-manager");
  EXPECT_EQ(sidecar.at("image"), kDevicePluginImage);
  EXPECT_EQ(sidecar.at("env"), ConfigManagerEnv(false, "gpu-feature-discovery"));
  EXPECT_EQ(Named(out, "initContainers", "config-manager-init").at("env"),
            ConfigManagerEnv(true, "gpu-feature-discovery"));
  const json& gfd = Named(out, "containers", "gpu-feature-discovery");
  EXPECT_EQ(Env(gfd, "CONFIG_FILE"), "/config/config.yaml");
  EXPECT_EQ(MountPath(gfd, "device-plugin-configs"), "/available-configs");
  EXPECT_EQ(PodSpec(out).at("shareProcessNamespace"), true);

  // Without an image in spec.devicePlugin, GFD's own (the same k8s-device-plugin image).
  policy.operands.erase("devicePlugin");
  EXPECT_EQ(
      Named(Transformed(input, kGfdState, policy), "containers", "config-manager").at("image"),
      "registry.local/gfd:v1");
}

TEST(Gfd, WithoutAConfigNameItsPodIsLeftAsItWas) {
  const json out = Transformed(GfdDaemonSet(), kGfdState, api::ClusterPolicy{});
  EXPECT_THAT(Names(out, "containers"), ElementsAre("gpu-feature-discovery"));
  EXPECT_THAT(Names(out, "initContainers"), ElementsAre("toolkit-validation"));
  EXPECT_EQ(Names(out, "volumes"), Names(GfdDaemonSet(), "volumes"));
  EXPECT_FALSE(PodSpec(out).contains("shareProcessNamespace"));
  EXPECT_EQ(Env(Named(out, "containers", "gpu-feature-discovery"), "GFD_SLEEP_INTERVAL"), "60s");
}

TEST(Gfd, TheSectionsEnvWinsOverTheMigEnv) {
  api::ClusterPolicy policy;
  policy.operands["gfd"].env = json::array({EnvVar("NVIDIA_MIG_MONITOR_DEVICES", "none")});
  const json out = Transformed(GfdDaemonSet(), kGfdState, policy);
  EXPECT_EQ(Env(Named(out, "containers", "gpu-feature-discovery"), "NVIDIA_MIG_MONITOR_DEVICES"),
            "none");
}

}  // namespace
}  // namespace gpuop::op
