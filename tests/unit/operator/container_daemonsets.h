#pragma once

// Small DaemonSets shaped like the container path's manifests (the names are the contract with
// deployments/operands: containers, volumes, mount targets), as TransformContainerDaemonSet gets
// them after the common transform, and the readers the tests check its output with. Built here
// rather than read from the manifests, so that each test shows the input its rule works on.
// Shared by container_operands_test.cc, driver_operand_test.cc and toolkit_operand_test.cc.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/cluster_policy.h"
#include "operator/container_operands.h"
#include "operator/operand_renderer.h"

namespace gpuop::op::testing {

using nlohmann::json;

inline json EnvVar(const std::string& name, const std::string& value) {
  return {{"name", name}, {"value", value}};
}

inline json Mount(const std::string& volume, const std::string& path) {
  return {{"name", volume}, {"mountPath", path}};
}

inline json HostPathVolume(const std::string& name, const std::string& path) {
  return {{"name", name}, {"hostPath", {{"path", path}, {"type", "DirectoryOrCreate"}}}};
}

inline json Container(const std::string& name, const std::string& image, json env, json mounts) {
  return {{"name", name},
          {"image", image},
          {"imagePullPolicy", "IfNotPresent"},
          {"env", std::move(env)},
          {"volumeMounts", std::move(mounts)}};
}

inline json DaemonSet(const std::string& name, json pod) {
  return {
      {"apiVersion", "apps/v1"},
      {"kind", "DaemonSet"},
      {"metadata", {{"name", name}, {"namespace", "gpu-operator"}}},
      {"spec",
       {{"selector", {{"matchLabels", {{"app", name}}}}},
        {"updateStrategy", {{"type", "RollingUpdate"}}},
        {"template", {{"metadata", {{"labels", {{"app", name}}}}}, {"spec", std::move(pod)}}}}}};
}

inline constexpr char kGpuopImage[] = "registry.local/gpuop:0.4.0";
inline constexpr char kDevicePluginImage[] = "nvcr.io/nvidia/k8s-device-plugin:v0.20.0";
inline constexpr char kManagerImage[] = "nvcr.io/nvidia/cloud-native/k8s-driver-manager:v0.12.0";

// The validator's driver step, as the toolkit's and the validator's manifests have it.
inline json DriverValidation() {
  return Container(
      "driver-validation", kGpuopImage,
      json::array({EnvVar("WITH_WAIT", "true"), EnvVar("DRIVER_INSTALL_DIR", "/run/nvidia/driver"),
                   EnvVar("DRIVER_INSTALL_DIR_CTR_PATH", "/run/nvidia/driver")}),
      json::array({Mount("host-root", "/host"), Mount("driver-install-dir", "/run/nvidia/driver"),
                   Mount("validations", "/run/nvidia/validations"),
                   Mount("host-dev-char", "/host-dev-char")}));
}

inline json ValidationStep(const std::string& name) {
  return Container(name, kGpuopImage, json::array({EnvVar("WITH_WAIT", "false")}),
                   json::array({Mount("validations", "/run/nvidia/validations")}));
}

inline json DriverDaemonSet() {
  json manager =
      Container("k8s-driver-manager", kManagerImage,
                json::array({EnvVar("ENABLE_GPU_POD_EVICTION", "true"),
                             EnvVar("ENABLE_AUTO_DRAIN", "false")}),
                json::array({Mount("run-nvidia", "/run/nvidia"), Mount("host-root", "/host"),
                             Mount("run-mellanox-drivers", "/run/mellanox/drivers")}));
  json driver =
      Container("nvidia-driver-ctr", "nvcr.io/nvidia/driver:595.91.07-ubuntu24.04",
                json::array({EnvVar("KERNEL_MODULE_TYPE", "auto")}),
                json::array({Mount("run-nvidia", "/run/nvidia"),
                             Mount("run-mellanox-drivers", "/run/mellanox/drivers"),
                             Mount("mlnx-ofed-usr-src", "/run/mellanox/drivers/usr/src")}));
  json peermem =
      Container("nvidia-peermem-ctr", "nvcr.io/nvidia/driver:595.91.07-ubuntu24.04", json::array(),
                json::array({Mount("run-nvidia", "/run/nvidia"),
                             Mount("run-mellanox-drivers", "/run/mellanox/drivers")}));
  json ds = DaemonSet(
      "nvidia-driver-daemonset",
      {{"hostPID", true},
       {"initContainers", json::array({manager})},
       {"containers", json::array({driver, peermem})},
       {"volumes",
        json::array({HostPathVolume("run-nvidia", "/run/nvidia"), HostPathVolume("host-root", "/"),
                     HostPathVolume("run-mellanox-drivers", "/run/mellanox/drivers"),
                     HostPathVolume("mlnx-ofed-usr-src", "/run/mellanox/drivers/usr/src")})}});
  ds["spec"]["updateStrategy"] = {{"type", "OnDelete"}};
  return ds;
}

inline json ToolkitDaemonSet() {
  json toolkit = Container(
      "nvidia-container-toolkit-ctr", "nvcr.io/nvidia/k8s/container-toolkit:v1.20.0",
      json::array({EnvVar("ROOT", "/usr/local/nvidia"), EnvVar("NVIDIA_VISIBLE_DEVICES", "void"),
                   EnvVar("TOOLKIT_PID_FILE", "/run/nvidia/toolkit/toolkit.pid")}),
      json::array({Mount("nvidia-container-toolkit-entrypoint", "/bin/entrypoint.sh"),
                   Mount("toolkit-root", "/run/nvidia/toolkit"),
                   Mount("validations", "/run/nvidia/validations"),
                   Mount("toolkit-install-dir", "/usr/local/nvidia"),
                   Mount("crio-hooks", "/usr/share/containers/oci/hooks.d"),
                   Mount("driver-install-dir", "/driver-root"), Mount("host-root", "/host"),
                   Mount("cdi-root", "/var/run/cdi")}));
  return DaemonSet(
      "nvidia-container-toolkit-daemonset",
      {{"hostPID", true},
       {"initContainers", json::array({DriverValidation()})},
       {"containers", json::array({toolkit})},
       {"volumes", json::array({{{"name", "nvidia-container-toolkit-entrypoint"},
                                 {"configMap", {{"name", "nvidia-container-toolkit-entrypoint"}}}},
                                HostPathVolume("toolkit-root", "/run/nvidia/toolkit"),
                                HostPathVolume("validations", "/run/nvidia/validations"),
                                HostPathVolume("toolkit-install-dir", "/usr/local/nvidia"),
                                HostPathVolume("crio-hooks", "/usr/share/containers/oci/hooks.d"),
                                HostPathVolume("driver-install-dir", "/run/nvidia/driver"),
                                HostPathVolume("host-root", "/"),
                                HostPathVolume("cdi-root", "/var/run/cdi"),
                                HostPathVolume("host-dev-char", "/dev/char")})}});
}

inline json ValidatorDaemonSet() {
  return DaemonSet(
      "nvidia-operator-validator",
      {{"runtimeClassName", "nvidia"},
       {"initContainers",
        json::array({DriverValidation(), ValidationStep("toolkit-validation"),
                     ValidationStep("cuda-validation"), ValidationStep("plugin-validation")})},
       {"containers",
        json::array({Container("nvidia-operator-validator", kGpuopImage, json::array(),
                               json::array({Mount("validations", "/run/nvidia/validations")}))})},
       {"volumes", json::array({HostPathVolume("host-root", "/"),
                                HostPathVolume("driver-install-dir", "/run/nvidia/driver"),
                                HostPathVolume("validations", "/run/nvidia/validations"),
                                HostPathVolume("host-dev-char", "/dev/char")})}});
}

inline json DevicePluginDaemonSet() {
  json plugin = Container(
      "nvidia-device-plugin", kDevicePluginImage,
      json::array({EnvVar("PASS_DEVICE_SPECS", "true"), EnvVar("FAIL_ON_INIT_ERROR", "true"),
                   EnvVar("DEVICE_LIST_STRATEGY", "envvar"), EnvVar("DEVICE_ID_STRATEGY", "uuid"),
                   EnvVar("NVIDIA_VISIBLE_DEVICES", "all"),
                   EnvVar("NVIDIA_DRIVER_CAPABILITIES", "all"),
                   EnvVar("MPS_ROOT", "/run/nvidia/mps")}),
      json::array({Mount("device-plugins", "/var/lib/kubelet/device-plugins"),
                   Mount("validations", "/run/nvidia/validations"),
                   Mount("driver-install-dir", "/driver-root"), Mount("host-root", "/host"),
                   Mount("cdi-root", "/var/run/cdi"), Mount("mps-shm", "/dev/shm"),
                   Mount("mps-root", "/mps")}));
  return DaemonSet(
      "nvidia-device-plugin-daemonset",
      {{"runtimeClassName", "nvidia"},
       {"initContainers", json::array({ValidationStep("toolkit-validation")})},
       {"containers", json::array({plugin})},
       {"volumes",
        json::array({HostPathVolume("device-plugins", "/var/lib/kubelet/device-plugins"),
                     HostPathVolume("validations", "/run/nvidia/validations"),
                     HostPathVolume("driver-install-dir", "/run/nvidia/driver"),
                     HostPathVolume("host-root", "/"), HostPathVolume("cdi-root", "/var/run/cdi"),
                     HostPathVolume("mps-shm", "/run/nvidia/mps/shm"),
                     HostPathVolume("mps-root", "/run/nvidia/mps")})}});
}

inline json GfdDaemonSet() {
  json gfd = Container(
      "gpu-feature-discovery", kDevicePluginImage,
      json::array({EnvVar("GFD_SLEEP_INTERVAL", "60s"), EnvVar("GFD_FAIL_ON_INIT_ERROR", "true")}),
      json::array({Mount("output-dir", "/etc/kubernetes/node-feature-discovery/features.d"),
                   Mount("host-sys", "/sys")}));
  return DaemonSet(
      "gpu-feature-discovery",
      {{"runtimeClassName", "nvidia"},
       {"initContainers", json::array({ValidationStep("toolkit-validation")})},
       {"containers", json::array({gfd})},
       {"volumes", json::array({HostPathVolume("output-dir",
                                               "/etc/kubernetes/node-feature-discovery/features.d"),
                                HostPathVolume("host-sys", "/sys")})}});
}

// A GPU node fleet on containerd with Ubuntu 24.04 driver images.
inline RenderContext Context(const std::string& runtime = "containerd") {
  RenderContext context;
  context.operator_namespace = "gpu-operator";
  context.gpuop_image = kGpuopImage;
  context.driver_os_tag = "ubuntu24.04";
  context.container_runtime = runtime;
  context.any_container_gpu_node = true;
  return context;
}

// The transform's result; a failure is reported and the input comes back.
inline json Transformed(json daemonset, std::string_view state, const api::ClusterPolicy& policy,
                        const RenderContext& context = Context()) {
  const json input = daemonset;
  const absl::Status status = TransformContainerDaemonSet(daemonset, state, policy, context);
  EXPECT_TRUE(status.ok()) << state << ": " << status;
  return status.ok() ? daemonset : input;
}

inline const json& PodSpec(const json& daemonset) {
  return daemonset.at("spec").at("template").at("spec");
}

// The entry of the pod's list ("containers", "initContainers", "volumes") named `name`; null when
// there is none (every reader below then finds nothing either).
inline const json& Named(const json& daemonset, const char* list, std::string_view name) {
  static const json kNone;
  const json& pod = PodSpec(daemonset);
  if (!pod.contains(list)) return kNone;
  for (const json& entry : pod[list]) {
    if (entry.contains("name") && entry["name"] == name) return entry;
  }
  return kNone;
}

inline std::vector<std::string> Names(const json& daemonset, const char* list) {
  std::vector<std::string> names;
  const json& pod = PodSpec(daemonset);
  if (!pod.contains(list)) return names;
  for (const json& entry : pod[list]) names.push_back(entry.value("name", ""));
  return names;
}

// The variable's value; nullopt when the container does not set it.
inline std::optional<std::string> Env(const json& container, std::string_view name) {
  if (!container.is_object() || !container.contains("env")) return std::nullopt;
  for (const json& variable : container["env"]) {
    if (variable["name"] == name) return variable.value("value", "");
  }
  return std::nullopt;
}

// Where the container mounts `volume` (the first mount); nullopt when it does not.
inline std::optional<std::string> MountPath(const json& container, std::string_view volume) {
  if (!container.is_object() || !container.contains("volumeMounts")) return std::nullopt;
  for (const json& mount : container["volumeMounts"]) {
    if (mount["name"] == volume) return mount.value("mountPath", "");
  }
  return std::nullopt;
}

inline std::optional<std::string> HostPath(const json& daemonset, std::string_view volume) {
  const json& entry = Named(daemonset, "volumes", volume);
  if (!entry.is_object() || !entry.contains("hostPath")) return std::nullopt;
  return entry["hostPath"].value("path", "");
}

}  // namespace gpuop::op::testing
