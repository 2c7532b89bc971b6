// The driver DaemonSet's transform (spec.driver, driver_operand.h), through
// TransformContainerDaemonSet.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "operator/container_operands.h"
#include "tests/fixtures/status_matchers.h"
#include "tests/unit/operator/container_daemonsets.h"

namespace gpuop::op {
namespace {

using ::gpuop::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace ::gpuop::op::testing;  // NOLINT(google-build-using-namespace): the fixtures.

constexpr char kState[] = "state-driver";

const json& DriverOf(const json& daemonset) {
  return Named(daemonset, "containers", "nvidia-driver-ctr");
}
const json& ManagerOf(const json& daemonset) {
  return Named(daemonset, "initContainers", "k8s-driver-manager");
}
const json& PeermemOf(const json& daemonset) {
  return Named(daemonset, "containers", "nvidia-peermem-ctr");
}

RenderContext OnOs(const std::string& os_tag) {
  RenderContext context = Context();
  context.driver_os_tag = os_tag;
  return context;
}

// Every mount of the container, as {mountPath: mount}.
std::map<std::string, json> MountsByPath(const json& container) {
  std::map<std::string, json> mounts;
  for (const json& mount : container.at("volumeMounts"))
    mounts[mount.at("mountPath").get<std::string>()] = mount;
  return mounts;
}

TEST(DriverDaemonSet, TheDefaultsDropPeermemAndAddNothing) {
  const json input = DriverDaemonSet();
  const json out = Transformed(input, kState, api::ClusterPolicy{});
  EXPECT_THAT(Names(out, "containers"), ElementsAre("nvidia-driver-ctr"));
  EXPECT_EQ(Names(out, "volumes"), Names(input, "volumes"));
  EXPECT_EQ(DriverOf(out).at("volumeMounts"),
            Named(input, "containers", "nvidia-driver-ctr").at("volumeMounts"));
  EXPECT_EQ(Env(DriverOf(out), "KERNEL_MODULE_TYPE"), "auto");
  for (const char* name :
       {"OPEN_KERNEL_MODULES_ENABLED", "GPU_DIRECT_RDMA_ENABLED", "USE_HOST_MOFED"}) {
    EXPECT_EQ(Env(DriverOf(out), name), std::nullopt) << name;
    EXPECT_EQ(Env(ManagerOf(out), name), std::nullopt) << name;
  }
  json manager = ManagerOf(out);
  json& manager_env = manager["env"];
  manager_env.erase(
      std::remove_if(manager_env.begin(), manager_env.end(),
                     [](const json& v) { return v["name"] == "DRIVER_CONFIG_DIGEST"; }),
      manager_env.end());
  EXPECT_EQ(manager, Named(input, "initContainers", "k8s-driver-manager"));
  EXPECT_EQ(HostPath(out, "mlnx-ofed-usr-src"), "/run/mellanox/drivers/usr/src");
  EXPECT_FALSE(PodSpec(out).contains("imagePullSecrets"));
  EXPECT_EQ(out.at("spec").at("updateStrategy"), json({{"type", "OnDelete"}}));
}

// The digest of the driver's install, as the driver container and its manager get it.
std::string DigestOf(const api::ClusterPolicy& policy, const json& input = DriverDaemonSet()) {
  const json out = Transformed(input, kState, policy);
  const std::optional<std::string> digest = Env(DriverOf(out), "DRIVER_CONFIG_DIGEST");
  EXPECT_TRUE(digest.has_value());
  EXPECT_EQ(Env(ManagerOf(out), "DRIVER_CONFIG_DIGEST"), digest);
  return digest.value_or("");
}

TEST(DriverDaemonSet, TheManagerAndTheDriverShareADigestOfTheInstall) {
  const std::string digest = DigestOf(api::ClusterPolicy{});
  EXPECT_THAT(digest, ::testing::MatchesRegex("[0-9a-f]{16}"));
  EXPECT_EQ(DigestOf(api::ClusterPolicy{}), digest) << "the same policy, another digest";
}

TEST(DriverDaemonSet, TheDigestChangesWithWhatTheInstallDependsOn) {
  const std::string base = DigestOf(api::ClusterPolicy{});
  api::ClusterPolicy open;
  open.driver.kernel_module_type = "open";
  EXPECT_NE(DigestOf(open), base) << "kernel module type";
  api::ClusterPolicy manager_env;
  manager_env.driver.manager.env.push_back({{"name", "ENABLE_AUTO_DRAIN"}, {"value", "true"}});
  EXPECT_NE(DigestOf(manager_env), base) << "the manager's env";
  api::ClusterPolicy repo;
  repo.driver.repo_config_map = "my-repos";
  EXPECT_NE(DigestOf(repo), base) << "a repository ConfigMap mounted";
  api::ClusterPolicy root;
  root.host_root_fs = "/host-root";
  EXPECT_NE(DigestOf(root), base) << "the node's root";
  json other_image = DriverDaemonSet();
  other_image["spec"]["template"]["spec"]["containers"][0]["image"] =
      "nvcr.io/nvidia/driver:580.0-ubuntu24.04";
  EXPECT_NE(DigestOf(api::ClusterPolicy{}, other_image), base) << "the driver image";
}

TEST(DriverDaemonSet, TheDigestIgnoresWhatOnlySchedulesThePod) {
  const std::string base = DigestOf(api::ClusterPolicy{});
  json scheduled = DriverDaemonSet();
  json& pod = scheduled["spec"]["template"]["spec"];
  pod["priorityClassName"] = "other";
  pod["tolerations"] = json::array({{{"operator", "Exists"}}});
  pod["containers"][0]["resources"] = {{"limits", {{"memory", "1Gi"}}}};
  scheduled["spec"]["template"]["metadata"]["labels"]["team"] = "a";
  EXPECT_EQ(DigestOf(api::ClusterPolicy{}, scheduled), base);
}

TEST(DriverDaemonSet, StaysOnDeleteWhateverSpecDaemonsetsSays) {
  json input = DriverDaemonSet();
  input["spec"]["updateStrategy"] = {{"type", "RollingUpdate"},
                                     {"rollingUpdate", {{"maxUnavailable", "1"}}}};
  const json out = Transformed(input, kState, api::ClusterPolicy{});
  EXPECT_EQ(out.at("spec").at("updateStrategy"), json({{"type", "OnDelete"}}));
}

TEST(DriverDaemonSet, TheKernelModuleTypeReachesTheDriver) {
  for (const char* type : {"auto", "open", "proprietary"}) {
    SCOPED_TRACE(type);
    api::ClusterPolicy policy;
    policy.driver.kernel_module_type = type;
    json input = DriverDaemonSet();
    // A manifest's own flag does not outlive the policy's type.
    input["spec"]["template"]["spec"]["containers"][0]["env"].push_back(
        EnvVar("OPEN_KERNEL_MODULES_ENABLED", "true"));
    const json out = Transformed(input, kState, policy);
    EXPECT_EQ(Env(DriverOf(out), "KERNEL_MODULE_TYPE"), type);
    EXPECT_EQ(Env(DriverOf(out), "OPEN_KERNEL_MODULES_ENABLED"),
              std::string(type) == "open" ? std::optional<std::string>("true") : std::nullopt);
  }
}

TEST(DriverDaemonSet, AnUnknownKernelModuleTypeIsRefusedNamingTheField) {
  api::ClusterPolicy policy;
  policy.driver.kernel_module_type = "nvidia-open";
  json daemonset = DriverDaemonSet();
  EXPECT_THAT(
      TransformContainerDaemonSet(daemonset, kState, policy, Context()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.driver.kernelModuleType")));
}

TEST(DriverDaemonSet, RdmaKeepsPeermemAndTellsTheManagerAndTheDriver) {
  api::ClusterPolicy policy;
  policy.driver.rdma_enabled = true;
  const json out = Transformed(DriverDaemonSet(), kState, policy);
  EXPECT_THAT(Names(out, "containers"), ElementsAre("nvidia-driver-ctr", "nvidia-peermem-ctr"));
  EXPECT_EQ(Env(ManagerOf(out), "GPU_DIRECT_RDMA_ENABLED"), "true");
  EXPECT_EQ(Env(DriverOf(out), "GPU_DIRECT_RDMA_ENABLED"), "true");
  for (const json* container : {&ManagerOf(out), &DriverOf(out), &PeermemOf(out)}) {
    EXPECT_EQ(Env(*container, "USE_HOST_MOFED"), std::nullopt);
  }
  EXPECT_EQ(HostPath(out, "mlnx-ofed-usr-src"), "/run/mellanox/drivers/usr/src");
}

TEST(DriverDaemonSet, HostMofedBuildsPeermemAgainstTheHostsSources) {
  api::ClusterPolicy policy;
  policy.driver.rdma_enabled = true;
  policy.driver.rdma_use_host_mofed = true;
  const json out = Transformed(DriverDaemonSet(), kState, policy);
  for (const json* container : {&ManagerOf(out), &DriverOf(out), &PeermemOf(out)}) {
    EXPECT_EQ(Env(*container, "USE_HOST_MOFED"), "true") << container->at("name");
  }
  EXPECT_EQ(HostPath(out, "mlnx-ofed-usr-src"), "/usr/src");
}

TEST(DriverDaemonSet, TheManagerSectionReachesTheManager) {
  api::ClusterPolicy policy;
  api::OperandSpec& manager = policy.driver.manager;
  manager.repository = "registry.local/cloud-native";
  manager.image = "k8s-driver-manager";
  manager.version = "v0.13.0";
  manager.image_pull_policy = "Always";
  manager.image_pull_secrets = {"mirror"};
  manager.env =
      json::array({EnvVar("ENABLE_AUTO_DRAIN", "true"), EnvVar("DRAIN_USE_FORCE", "true")});
  const json out = Transformed(DriverDaemonSet(), kState, policy);
  EXPECT_EQ(ManagerOf(out).at("image"), "registry.local/cloud-native/k8s-driver-manager:v0.13.0");
  EXPECT_EQ(ManagerOf(out).at("imagePullPolicy"), "Always");
  EXPECT_EQ(Env(ManagerOf(out), "ENABLE_AUTO_DRAIN"), "true");  // Replaces the manifest's.
  EXPECT_EQ(Env(ManagerOf(out), "DRAIN_USE_FORCE"), "true");
  EXPECT_EQ(Env(ManagerOf(out), "ENABLE_GPU_POD_EVICTION"), "true");
  EXPECT_EQ(PodSpec(out).at("imagePullSecrets"), json::array({{{"name", "mirror"}}}));

  // A digest, and a pull policy the API does not know.
  manager.version = "sha256:0123abcd";
  manager.image_pull_policy = "Sometimes";
  const json pinned = Transformed(DriverDaemonSet(), kState, policy);
  EXPECT_EQ(ManagerOf(pinned).at("image"),
            "registry.local/cloud-native/k8s-driver-manager@sha256:0123abcd");
  EXPECT_EQ(ManagerOf(pinned).at("imagePullPolicy"), "IfNotPresent");
}

TEST(DriverDaemonSet, AHalfNamedManagerImageIsRefusedNamingTheField) {
  api::ClusterPolicy policy;
  policy.driver.manager.image = "k8s-driver-manager";
  policy.driver.manager.version = "v0.13.0";
  json daemonset = DriverDaemonSet();
  EXPECT_THAT(TransformContainerDaemonSet(daemonset, kState, policy, Context()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.driver.manager")));
}

TEST(DriverDaemonSet, RepoAndCertificateConfigGoWhereTheDriversDistributionReadsThem) {
  struct Case {
    const char* os_tag;
    const char* repo_dir;
    const char* cert_dir;
  };
  const Case cases[] = {
      {"ubuntu24.04", "/etc/apt/sources.list.d", "/usr/local/share/ca-certificates"},
      {"", "/etc/apt/sources.list.d", "/usr/local/share/ca-certificates"},
      {"rhel9", "/etc/yum.repos.d", "/etc/pki/ca-trust/extracted/pem"},
      {"rocky9", "/etc/yum.repos.d", "/etc/pki/ca-trust/extracted/pem"},
      {"ol8", "/etc/yum.repos.d", "/etc/pki/ca-trust/extracted/pem"},
      {"sles15.6", "/etc/zypp/repos.d", "/etc/pki/trust/anchors"},
  };
  api::ClusterPolicy policy;
  policy.driver.repo_config_map = "local-repos";
  policy.driver.cert_config_name = "local-ca";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.os_tag);
    const json out = Transformed(DriverDaemonSet(), kState, policy, OnOs(c.os_tag));
    EXPECT_EQ(Named(out, "volumes", "repo-config").at("configMap"),
              json({{"name", "local-repos"}}));
    EXPECT_EQ(Named(out, "volumes", "cert-config").at("configMap"), json({{"name", "local-ca"}}));
    const auto mounts = MountsByPath(DriverOf(out));
    ASSERT_TRUE(mounts.contains(c.repo_dir));
    EXPECT_EQ(mounts.at(c.repo_dir),
              json({{"name", "repo-config"}, {"mountPath", c.repo_dir}, {"readOnly", true}}));
    ASSERT_TRUE(mounts.contains(c.cert_dir));
    EXPECT_EQ(mounts.at(c.cert_dir).at("name"), "cert-config");
    // Only the driver container builds against them.
    EXPECT_EQ(MountPath(ManagerOf(out), "repo-config"), std::nullopt);
  }
}

TEST(DriverDaemonSet, ModuleParametersAreMountedFileByFileBesideTheInstaller) {
  api::ClusterPolicy policy;
  policy.driver.kernel_module_config_name = "module-params";
  policy.driver.rdma_enabled = true;  // nvidia-peermem.conf is for the peermem container.
  const json out = Transformed(DriverDaemonSet(), kState, policy);
  const json& volume = Named(out, "volumes", "kernel-module-config");
  EXPECT_EQ(volume.at("configMap").at("name"), "module-params");
  // Keys the ConfigMap lacks must not keep the driver pod from starting.
  EXPECT_EQ(volume.at("configMap").at("optional"), true);
  const char* files[] = {"nvidia.conf", "nvidia-uvm.conf", "nvidia-modeset.conf",
                         "nvidia-peermem.conf"};
  json items = json::array();
  for (const char* file : files) items.push_back({{"key", file}, {"path", file}});
  EXPECT_EQ(volume.at("configMap").at("items"), items);
  for (const json* container : {&DriverOf(out), &PeermemOf(out)}) {
    SCOPED_TRACE(container->at("name").get<std::string>());
    const auto mounts = MountsByPath(*container);
    EXPECT_FALSE(mounts.contains("/drivers"));  // The installer's folder stays the image's.
    for (const char* file : files) {
      const std::string path = std::string("/drivers/") + file;
      ASSERT_TRUE(mounts.contains(path));
      EXPECT_EQ(mounts.at(path), json({{"name", "kernel-module-config"},
                                       {"mountPath", path},
                                       {"subPath", file},
                                       {"readOnly", true}}));
    }
  }
}

TEST(DriverDaemonSet, ALicensingConfigMapGivesGriddConfAndTheNlsToken) {
  api::ClusterPolicy policy;
  policy.driver.licensing_config_map = "licensing";
  const json out = Transformed(DriverDaemonSet(), kState, policy);
  EXPECT_EQ(Named(out, "volumes", "licensing-config"),
            json({{"name", "licensing-config"},
                  {"configMap",
                   {{"name", "licensing"},
                    {"items",
                     {{{"key", "gridd.conf"}, {"path", "gridd.conf"}},
                      {{"key", "client_configuration_token.tok"},
                       {"path", "client_configuration_token.tok"}}}}}}}));
  const auto mounts = MountsByPath(DriverOf(out));
  ASSERT_TRUE(mounts.contains("/drivers/gridd.conf"));
  EXPECT_EQ(mounts.at("/drivers/gridd.conf"), json({{"name", "licensing-config"},
                                                    {"mountPath", "/drivers/gridd.conf"},
                                                    {"subPath", "gridd.conf"},
                                                    {"readOnly", true}}));
  const std::string token = "/drivers/ClientConfigToken/client_configuration_token.tok";
  ASSERT_TRUE(mounts.contains(token));
  EXPECT_EQ(mounts.at(token).at("subPath"), "client_configuration_token.tok");
}

TEST(DriverDaemonSet, ALicensingSecretWinsAndWithoutNlsThereIsNoToken) {
  api::ClusterPolicy policy;
  policy.driver.licensing_config_map = "licensing";
  policy.driver.licensing_secret = "licensing-secret";
  policy.driver.licensing_nls_enabled = false;
  const json out = Transformed(DriverDaemonSet(), kState, policy);
  EXPECT_EQ(Named(out, "volumes", "licensing-config"),
            json({{"name", "licensing-config"},
                  {"secret",
                   {{"secretName", "licensing-secret"},
                    {"items", json::array({{{"key", "gridd.conf"}, {"path", "gridd.conf"}}})}}}}));
  const auto mounts = MountsByPath(DriverOf(out));
  EXPECT_TRUE(mounts.contains("/drivers/gridd.conf"));
  EXPECT_FALSE(mounts.contains("/drivers/ClientConfigToken/client_configuration_token.tok"));
}

TEST(DriverDaemonSet, NamesTheApiWouldRefuseAreRefusedNamingTheField) {
  const std::pair<std::function<void(api::DriverSpec&)>, const char*> cases[] = {
      {[](api::DriverSpec& d) { d.repo_config_map = "Local_Repos"; },
       "spec.driver.repoConfig.configMapName"},
      {[](api::DriverSpec& d) { d.cert_config_name = "ca/bundle"; }, "spec.driver.certConfig.name"},
      {[](api::DriverSpec& d) { d.kernel_module_config_name = ".params"; },
       "spec.driver.kernelModuleConfig.name"},
      {[](api::DriverSpec& d) { d.licensing_config_map = "Licensing"; },
       "spec.driver.licensingConfig.configMapName"},
      {[](api::DriverSpec& d) { d.licensing_secret = "licensing secret"; },
       "spec.driver.licensingConfig.secretName"},
  };
  for (const auto& [edit, field] : cases) {
    api::ClusterPolicy policy;
    edit(policy.driver);
    json daemonset = DriverDaemonSet();
    EXPECT_THAT(TransformContainerDaemonSet(daemonset, kState, policy, Context()),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(field)));
  }
}

TEST(DriverDaemonSet, TheSectionsEnvWinsOverWhatTheTransformSets) {
  api::ClusterPolicy policy;
  policy.driver.kernel_module_type = "proprietary";
  policy.operands["driver"].env = json::array({EnvVar("KERNEL_MODULE_TYPE", "open")});
  const json out = Transformed(DriverDaemonSet(), kState, policy);
  EXPECT_EQ(Env(DriverOf(out), "KERNEL_MODULE_TYPE"), "open");
}

TEST(DriverDaemonSet, ADaemonSetWithoutTheDriverManagerIsAManifestBug) {
  json daemonset = DriverDaemonSet();
  daemonset["spec"]["template"]["spec"]["initContainers"] = json::array();
  EXPECT_THAT(TransformContainerDaemonSet(daemonset, kState, api::ClusterPolicy{}, Context()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("k8s-driver-manager")));
}

}  // namespace
}  // namespace gpuop::op
