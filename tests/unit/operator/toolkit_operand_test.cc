// The container toolkit DaemonSet's transform (CDI, spec.toolkit.installDir and the container
// runtime's files, toolkit_operand.h), through TransformContainerDaemonSet.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "operator/container_operands.h"
#include "tests/fixtures/status_matchers.h"
#include "tests/unit/operator/container_daemonsets.h"

namespace gpuop::op {
namespace {

using ::gpuop::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::gpuop::op::testing;  // NOLINT(google-build-using-namespace): the fixtures.

constexpr char kState[] = "state-container-toolkit";

const json& ToolkitOf(const json& daemonset) {
  return Named(daemonset, "containers", "nvidia-container-toolkit-ctr");
}

// spec.toolkit.env as the transform finds it: in the policy, and already on the container (the
// common transform applied it).
api::ClusterPolicy WithToolkitEnv(json env, json& daemonset) {
  api::ClusterPolicy policy;
  for (const json& variable : env) {
    daemonset["spec"]["template"]["spec"]["containers"][0]["env"].push_back(variable);
  }
  policy.operands["toolkit"].env = std::move(env);
  return policy;
}

json HostPathOf(const std::string& path, bool create) {
  json host_path = {{"path", path}};
  if (create) host_path["type"] = "DirectoryOrCreate";
  return host_path;
}

TEST(ToolkitDaemonSet, ContainerdGetsItsConfigDropInAndSocketFoldersUnderRuntime) {
  const json out = Transformed(ToolkitDaemonSet(), kState, api::ClusterPolicy{});
  const json& toolkit = ToolkitOf(out);
  EXPECT_EQ(Env(toolkit, "RUNTIME"), "containerd");
  EXPECT_EQ(Env(toolkit, "CONTAINERD_RUNTIME_CLASS"), "nvidia");
  EXPECT_EQ(Env(toolkit, "RUNTIME_CONFIG"), "/runtime/config-dir/config.toml");
  EXPECT_EQ(Env(toolkit, "CONTAINERD_CONFIG"), "/runtime/config-dir/config.toml");
  EXPECT_EQ(Env(toolkit, "RUNTIME_DROP_IN_CONFIG"), "/runtime/config-dir.d/99-nvidia.toml");
  EXPECT_EQ(Env(toolkit, "RUNTIME_DROP_IN_CONFIG_HOST_PATH"),
            "/etc/containerd/conf.d/99-nvidia.toml");
  EXPECT_EQ(Env(toolkit, "RUNTIME_SOCKET"), "/runtime/sock-dir/containerd.sock");
  EXPECT_EQ(Env(toolkit, "CONTAINERD_SOCKET"), "/runtime/sock-dir/containerd.sock");
  EXPECT_EQ(Named(out, "volumes", "containerd-config").at("hostPath"),
            HostPathOf("/etc/containerd", true));
  EXPECT_EQ(Named(out, "volumes", "containerd-drop-in-config").at("hostPath"),
            HostPathOf("/etc/containerd/conf.d", true));
  EXPECT_EQ(Named(out, "volumes", "containerd-socket").at("hostPath"),
            HostPathOf("/run/containerd", false));
  EXPECT_EQ(MountPath(toolkit, "containerd-config"), "/runtime/config-dir/");
  EXPECT_EQ(MountPath(toolkit, "containerd-drop-in-config"), "/runtime/config-dir.d/");
  EXPECT_EQ(MountPath(toolkit, "containerd-socket"), "/runtime/sock-dir/");
  // The driver step does not touch the runtime.
  EXPECT_EQ(MountPath(Named(out, "initContainers", "driver-validation"), "containerd-config"),
            std::nullopt);
}

TEST(ToolkitDaemonSet, ContainerdsHandlerIsNamedAfterThePolicysRuntimeClass) {
  api::ClusterPolicy policy;
  policy.container_runtime_class = "nvidia-gpu";
  EXPECT_EQ(
      Env(ToolkitOf(Transformed(ToolkitDaemonSet(), kState, policy)), "CONTAINERD_RUNTIME_CLASS"),
      "nvidia-gpu");
}

TEST(ToolkitDaemonSet, CdiMakesNvidiaAHandlerInCdiModeAndNotTheDefault) {
  const json out = Transformed(ToolkitDaemonSet(), kState, api::ClusterPolicy{});
  const json& toolkit = ToolkitOf(out);
  EXPECT_EQ(Env(toolkit, "CDI_ENABLED"), "true");
  EXPECT_EQ(Env(toolkit, "NVIDIA_RUNTIME_SET_AS_DEFAULT"), "false");
  EXPECT_EQ(Env(toolkit, "NVIDIA_CONTAINER_RUNTIME_MODE"), "cdi");
  EXPECT_EQ(Env(toolkit, "CRIO_CONFIG_MODE"), "config");
}

TEST(ToolkitDaemonSet, WithoutCdiOnContainerdTheInstallersDefaultsStay) {
  api::ClusterPolicy policy;
  policy.cdi_enabled = false;
  const json out = Transformed(ToolkitDaemonSet(), kState, policy);
  for (const char* name : {"CDI_ENABLED", "NVIDIA_RUNTIME_SET_AS_DEFAULT",
                           "NVIDIA_CONTAINER_RUNTIME_MODE", "CRIO_CONFIG_MODE"}) {
    EXPECT_EQ(Env(ToolkitOf(out), name), std::nullopt) << name;
  }
}

TEST(ToolkitDaemonSet, TheAdminsEnvWinsOverTheCdiEnv) {
  json input = ToolkitDaemonSet();
  const api::ClusterPolicy policy =
      WithToolkitEnv(json::array({EnvVar("NVIDIA_RUNTIME_SET_AS_DEFAULT", "true")}), input);
  EXPECT_EQ(Env(ToolkitOf(Transformed(input, kState, policy)), "NVIDIA_RUNTIME_SET_AS_DEFAULT"),
            "true");
}

TEST(ToolkitDaemonSet, TheAdminsHostPathsChooseTheFoldersMounted) {
  json input = ToolkitDaemonSet();
  const api::ClusterPolicy policy = WithToolkitEnv(
      json::array(
          {EnvVar("CONTAINERD_CONFIG", "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"),
           EnvVar("RUNTIME_DROP_IN_CONFIG",
                  "/var/lib/rancher/k3s/agent/etc/containerd/config.toml.d/99-nvidia.toml"),
           EnvVar("CONTAINERD_SOCKET", "/run/k3s/containerd/containerd.sock")}),
      input);
  const json out = Transformed(input, kState, policy);
  EXPECT_EQ(HostPath(out, "containerd-config"), "/var/lib/rancher/k3s/agent/etc/containerd");
  EXPECT_EQ(HostPath(out, "containerd-drop-in-config"),
            "/var/lib/rancher/k3s/agent/etc/containerd/config.toml.d");
  EXPECT_EQ(HostPath(out, "containerd-socket"), "/run/k3s/containerd");
  const json& toolkit = ToolkitOf(out);
  EXPECT_EQ(Env(toolkit, "CONTAINERD_CONFIG"), "/runtime/config-dir/config.toml");
  EXPECT_EQ(Env(toolkit, "RUNTIME_DROP_IN_CONFIG"), "/runtime/config-dir.d/99-nvidia.toml");
  EXPECT_EQ(Env(toolkit, "RUNTIME_DROP_IN_CONFIG_HOST_PATH"),
            "/var/lib/rancher/k3s/agent/etc/containerd/config.toml.d/99-nvidia.toml");
  EXPECT_EQ(Env(toolkit, "CONTAINERD_SOCKET"), "/runtime/sock-dir/containerd.sock");
  EXPECT_EQ(Env(toolkit, "RUNTIME_SOCKET"), "/runtime/sock-dir/containerd.sock");
}

TEST(ToolkitDaemonSet, RuntimeConfigNamesTheConfigWhenTheRuntimesOwnVariableDoesNot) {
  json input = ToolkitDaemonSet();
  const api::ClusterPolicy policy =
      WithToolkitEnv(json::array({EnvVar("RUNTIME_CONFIG", "/etc/k0s/containerd.toml")}), input);
  const json out = Transformed(input, kState, policy);
  EXPECT_EQ(HostPath(out, "containerd-config"), "/etc/k0s");
  EXPECT_EQ(Env(ToolkitOf(out), "CONTAINERD_CONFIG"), "/runtime/config-dir/containerd.toml");
  EXPECT_EQ(Env(ToolkitOf(out), "RUNTIME_CONFIG"), "/runtime/config-dir/containerd.toml");
}

TEST(ToolkitDaemonSet, ConfigSourceFilesAreReadThroughTheHostsRoot) {
  json input = ToolkitDaemonSet();
  const api::ClusterPolicy policy = WithToolkitEnv(
      json::array({EnvVar("RUNTIME_CONFIG_SOURCE", "command,file=/etc/containerd/config.toml")}),
      input);
  EXPECT_EQ(Env(ToolkitOf(Transformed(input, kState, policy)), "RUNTIME_CONFIG_SOURCE"),
            "command,file=/host/etc/containerd/config.toml");
}

TEST(ToolkitDaemonSet, CrioGetsItsConfigAndDropInFoldersButNoSocket) {
  const json out = Transformed(ToolkitDaemonSet(), kState, api::ClusterPolicy{}, Context("crio"));
  const json& toolkit = ToolkitOf(out);
  EXPECT_EQ(Env(toolkit, "RUNTIME"), "crio");
  EXPECT_EQ(Env(toolkit, "CRIO_CONFIG_MODE"), "config");
  EXPECT_EQ(Env(toolkit, "RUNTIME_CONFIG"), "/runtime/config-dir/config.toml");
  EXPECT_EQ(Env(toolkit, "CRIO_CONFIG"), "/runtime/config-dir/config.toml");
  EXPECT_EQ(HostPath(out, "crio-config"), "/etc/crio");
  EXPECT_EQ(Env(toolkit, "RUNTIME_DROP_IN_CONFIG"), "/runtime/config-dir.d/99-nvidia.conf");
  EXPECT_EQ(Env(toolkit, "RUNTIME_DROP_IN_CONFIG_HOST_PATH"),
            "/etc/crio/crio.conf.d/99-nvidia.conf");
  EXPECT_EQ(HostPath(out, "crio-drop-in-config"), "/etc/crio/crio.conf.d");
  EXPECT_EQ(Env(toolkit, "RUNTIME_SOCKET"), std::nullopt);
  EXPECT_EQ(Env(toolkit, "CONTAINERD_RUNTIME_CLASS"), std::nullopt);
  EXPECT_FALSE(Named(out, "volumes", "crio-socket").is_object());
}

TEST(ToolkitDaemonSet, CrioWithoutCdiKeepsThePrestartHook) {
  api::ClusterPolicy policy;
  policy.cdi_enabled = false;
  const json out = Transformed(ToolkitDaemonSet(), kState, policy, Context("crio"));
  const json& toolkit = ToolkitOf(out);
  EXPECT_EQ(Env(toolkit, "CRIO_CONFIG_MODE"), "hook");
  EXPECT_EQ(Env(toolkit, "CDI_ENABLED"), std::nullopt);
}

TEST(ToolkitDaemonSet, DockerHasAConfigAndASocketButNoDropIn) {
  const json out = Transformed(ToolkitDaemonSet(), kState, api::ClusterPolicy{}, Context("docker"));
  const json& toolkit = ToolkitOf(out);
  EXPECT_EQ(Env(toolkit, "RUNTIME"), "docker");
  EXPECT_EQ(Env(toolkit, "DOCKER_CONFIG"), "/runtime/config-dir/daemon.json");
  EXPECT_EQ(HostPath(out, "docker-config"), "/etc/docker");
  EXPECT_EQ(Env(toolkit, "DOCKER_SOCKET"), "/runtime/sock-dir/docker.sock");
  EXPECT_EQ(HostPath(out, "docker-socket"), "/var/run");
  EXPECT_EQ(Env(toolkit, "RUNTIME_DROP_IN_CONFIG"), std::nullopt);
  EXPECT_FALSE(Named(out, "volumes", "docker-drop-in-config").is_object());
}

TEST(ToolkitDaemonSet, TheDefaultInstallDirLeavesRootAndItsFolderAlone) {
  const json out = Transformed(ToolkitDaemonSet(), kState, api::ClusterPolicy{});
  EXPECT_EQ(Env(ToolkitOf(out), "ROOT"), "/usr/local/nvidia");
  EXPECT_EQ(HostPath(out, "toolkit-install-dir"), "/usr/local/nvidia");
  EXPECT_EQ(MountPath(ToolkitOf(out), "toolkit-install-dir"), "/usr/local/nvidia");
}

TEST(ToolkitDaemonSet, ACustomInstallDirMovesRootItsFolderAndItsMount) {
  api::ClusterPolicy policy;
  policy.toolkit_install_dir = "/opt/nvidia-toolkit/";
  const json out = Transformed(ToolkitDaemonSet(), kState, policy);
  EXPECT_EQ(Env(ToolkitOf(out), "ROOT"), "/opt/nvidia-toolkit");
  EXPECT_EQ(HostPath(out, "toolkit-install-dir"), "/opt/nvidia-toolkit");
  EXPECT_EQ(MountPath(ToolkitOf(out), "toolkit-install-dir"), "/opt/nvidia-toolkit");
}

TEST(ToolkitDaemonSet, ValuesThatCannotWorkAreRefusedNamingTheField) {
  struct Case {
    const char* install_dir;
    json env;
    const char* runtime;
    const char* runtime_class;
    const char* field;
  };
  const Case cases[] = {
      {"usr/local/nvidia", json::array(), "containerd", "nvidia", "spec.toolkit.installDir"},
      {"/", json::array(), "containerd", "nvidia", "spec.toolkit.installDir"},
      {"/usr/local/nvidia",
       json::array({EnvVar("CONTAINERD_CONFIG", "etc/containerd/config.toml")}), "containerd",
       "nvidia", "spec.toolkit.env CONTAINERD_CONFIG"},
      {"/usr/local/nvidia", json::array({EnvVar("CONTAINERD_SOCKET", "/")}), "containerd", "nvidia",
       "spec.toolkit.env CONTAINERD_SOCKET"},
      {"/usr/local/nvidia", json::array({EnvVar("RUNTIME_CONFIG_SOURCE", "file=/etc/../x.toml")}),
       "containerd", "nvidia", "spec.toolkit.env RUNTIME_CONFIG_SOURCE"},
      {"/usr/local/nvidia", json::array(), "podman", "nvidia", "container runtime"},
      {"/usr/local/nvidia", json::array(), "containerd", "NVIDIA", "spec.operator.runtimeClass"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    json daemonset = ToolkitDaemonSet();
    api::ClusterPolicy policy = WithToolkitEnv(c.env, daemonset);
    policy.toolkit_install_dir = c.install_dir;
    policy.container_runtime_class = c.runtime_class;
    EXPECT_THAT(TransformContainerDaemonSet(daemonset, kState, policy, Context(c.runtime)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field)));
  }
}

}  // namespace
}  // namespace gpuop::op
