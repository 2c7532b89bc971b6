// The container path rendered from the manifests gpuop ships (deployments/operands, embedded):
// which states a policy turns on, the images each gets (the driver's tag from the GPU nodes' OS),
// the CDI RuntimeClasses, and that no ${VARIABLE} is left unfilled in any object.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <string>

#include "api/cluster_policy.h"
#include "operator/checked_configs.h"
#include "operator/container_node_facts.h"
#include "operator/embedded_manifests.h"
#include "operator/operand_renderer.h"
#include "operator/pod_spec_edits.h"
#include "operator/precompiled_driver.h"
#include "render_helpers.h"

namespace gpuop::op {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

void CollectUnfilled(const json& value, const std::string& path, std::vector<std::string>& out) {
  if (value.is_string()) {
    if (value.get<std::string>().find("${") != std::string::npos) out.push_back(path);
  } else if (value.is_object()) {
    for (const auto& [key, item] : value.items()) CollectUnfilled(item, path + "." + key, out);
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      CollectUnfilled(value[i], path + "[" + std::to_string(i) + "]", out);
    }
  }
}

const json kContainerFleetSpec = json::object();  // NVIDIA's defaults: everything nil.

TEST(OsTagOf, KeepsTheMajorVersionOnlyWhereNvidiaTagsSo) {
  EXPECT_EQ(OsTagOf("ubuntu", "24.04"), "ubuntu24.04");
  EXPECT_EQ(OsTagOf("rhel", "9.4"), "rhel9");
  EXPECT_EQ(OsTagOf("rocky", "8.10"), "rocky8");
  EXPECT_EQ(OsTagOf("ol", "9.3"), "ol9");
  EXPECT_EQ(OsTagOf("sles", "15.6"), "sles15.6");
  EXPECT_EQ(OsTagOf("ubuntu", ""), "");
  EXPECT_EQ(OsTagOf("", "24.04"), "");
}

TEST(ContainerRuntimeOf, ReadsTheKubeletsRuntimeVersionAsNvidiasOperatorDoes) {
  EXPECT_EQ(ContainerRuntimeOf("containerd://1.7.24"), "containerd");
  EXPECT_EQ(ContainerRuntimeOf("cri-o://1.30.4"), "crio");
  EXPECT_EQ(ContainerRuntimeOf("docker://24.0.7"), "docker");
  EXPECT_EQ(ContainerRuntimeOf("remote://1.0"), "");
  EXPECT_EQ(ContainerRuntimeOf("containerd"), "") << "no scheme: not a kubelet's report";
  EXPECT_EQ(ContainerRuntimeOf(""), "");
}

TEST(ContainerPathRender, AnEmptyPolicyDeploysNvidiasContainerOperandsWithTheirChartImages) {
  const auto states = Render(kContainerFleetSpec, ContextWith("ubuntu24.04", true));
  for (const char* name : {"state-driver", "state-container-toolkit", "state-operator-validation",
                           "state-device-plugin", "gpu-feature-discovery"}) {
    ASSERT_TRUE(states.contains(name)) << name;
    EXPECT_TRUE(states.at(name).enabled) << name;
    EXPECT_TRUE(states.at(name).error.ok()) << name << ": " << states.at(name).error;
  }
  const json* driver = Find(states, "DaemonSet", "nvidia-driver-daemonset");
  ASSERT_NE(driver, nullptr);
  EXPECT_EQ(ImageOf(*driver, "nvidia-driver-ctr"), "nvcr.io/nvidia/driver:595.91.07-ubuntu24.04");
  EXPECT_EQ(ImageOf(*driver, "k8s-driver-manager"),
            "nvcr.io/nvidia/cloud-native/k8s-driver-manager:v0.12.0");
  const json* toolkit = Find(states, "DaemonSet", "nvidia-container-toolkit-daemonset");
  ASSERT_NE(toolkit, nullptr);
  EXPECT_EQ(ImageOf(*toolkit, "nvidia-container-toolkit-ctr"),
            "nvcr.io/nvidia/k8s/container-toolkit:v1.20.0");
  // The validation steps are gpuop's own.
  EXPECT_EQ(ImageOf(*toolkit, "driver-validation"), "registry.local/gpuop:0.5.0");
  const json* plugin = Find(states, "DaemonSet", "nvidia-device-plugin-daemonset");
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(ImageOf(*plugin, "nvidia-device-plugin"), "nvcr.io/nvidia/k8s-device-plugin:v0.20.0");
  EXPECT_EQ(ImageOf(*plugin, "toolkit-validation"), "registry.local/gpuop:0.5.0");
  const json* validator = Find(states, "DaemonSet", "nvidia-operator-validator");
  ASSERT_NE(validator, nullptr);
  EXPECT_EQ(ImageOf(*validator, "driver-validation"), "registry.local/gpuop:0.5.0");
  EXPECT_NE(Find(states, "DaemonSet", "gpu-feature-discovery"), nullptr);
  EXPECT_NE(Find(states, "RuntimeClass", "nvidia"), nullptr);
  EXPECT_NE(Find(states, "RuntimeClass", "nvidia-cdi"), nullptr) << "cdi.enabled is nil: on";
  EXPECT_NE(Find(states, "RuntimeClass", "nvidia-legacy"), nullptr);
}

TEST(ContainerPathRender, EveryVariableOfEveryContainerManifestIsFilled) {
  const auto states = Render(kContainerFleetSpec, ContextWith("ubuntu24.04", true));
  std::vector<std::string> unfilled;
  for (const auto& [name, state] : states) {
    for (const json& object : state.objects) {
      CollectUnfilled(object, name + ":" + object["metadata"].value("name", ""), unfilled);
    }
  }
  EXPECT_THAT(unfilled, IsEmpty());
}

TEST(ContainerPathRender, TheDriverTagNeedsAnOsTagOnlyWhereAContainerNodeWouldRunIt) {
  // No container node: no driver DaemonSet, and nothing to complain of.
  auto states = Render(kContainerFleetSpec, ContextWith("", false));
  EXPECT_TRUE(states.at("state-driver").error.ok()) << states.at("state-driver").error;
  EXPECT_EQ(Find(states, "DaemonSet", "nvidia-driver-daemonset"), nullptr);
  EXPECT_NE(Find(states, "ServiceAccount", "nvidia-driver"), nullptr);
  // A container node without NFD's OS labels: the state says which labels it wants.
  states = Render(kContainerFleetSpec, ContextWith("", true));
  EXPECT_THAT(states.at("state-driver").error.message(),
              HasSubstr("feature.node.kubernetes.io/system-os_release.ID"));
  EXPECT_TRUE(states.at("state-device-plugin").error.ok()) << "the other states still render";
  EXPECT_NE(Find(states, "DaemonSet", "nvidia-device-plugin-daemonset"), nullptr);
}

TEST(ContainerPathRender, ADigestVersionTakesNoOsSuffix) {
  const json spec = {{"driver",
                      {{"repository", "registry.local/nvidia"},
                       {"image", "driver"},
                       {"version", "sha256:0123abcd"}}}};
  const auto states = Render(spec, ContextWith("", true));
  ASSERT_TRUE(states.at("state-driver").error.ok()) << states.at("state-driver").error;
  const json* driver = Find(states, "DaemonSet", "nvidia-driver-daemonset");
  ASSERT_NE(driver, nullptr);
  EXPECT_EQ(ImageOf(*driver, "nvidia-driver-ctr"), "registry.local/nvidia/driver@sha256:0123abcd");
}

TEST(ContainerPathRender, ThePolicysImagesAndTheOperatorsFallbacksWinOverTheChartDefaults) {
  const json spec = {{"toolkit",
                      {{"repository", "registry.local/nvidia"},
                       {"image", "container-toolkit"},
                       {"version", "v1.20.2"}}},
                     {"driver",
                      {{"manager",
                        {{"repository", "registry.local/nvidia"},
                         {"image", "k8s-driver-manager"},
                         {"version", "v0.12.1"}}}}}};
  RenderContext context = ContextWith("rhel9", true);
  context.fallback_images["devicePlugin"] = "mirror.local/k8s-device-plugin:v0.17.4";
  const auto states = Render(spec, context);
  EXPECT_EQ(ImageOf(*Find(states, "DaemonSet", "nvidia-container-toolkit-daemonset"),
                    "nvidia-container-toolkit-ctr"),
            "registry.local/nvidia/container-toolkit:v1.20.2");
  EXPECT_EQ(
      ImageOf(*Find(states, "DaemonSet", "nvidia-device-plugin-daemonset"), "nvidia-device-plugin"),
      "mirror.local/k8s-device-plugin:v0.17.4");
  const json* driver = Find(states, "DaemonSet", "nvidia-driver-daemonset");
  ASSERT_NE(driver, nullptr);
  EXPECT_EQ(ImageOf(*driver, "nvidia-driver-ctr"), "nvcr.io/nvidia/driver:595.91.07-rhel9");
  EXPECT_EQ(ImageOf(*driver, "k8s-driver-manager"),
            "registry.local/nvidia/k8s-driver-manager:v0.12.1");
}

TEST(ContainerPathRender, DisabledOperandsAreNotRenderedAndCdiOffDropsItsRuntimeClasses) {
  const json spec = {{"driver", {{"enabled", false}}},
                     {"toolkit", {{"enabled", false}}},
                     {"devicePlugin", {{"enabled", false}}},
                     {"gfd", {{"enabled", false}}},
                     {"cdi", {{"enabled", false}}}};
  const auto states = Render(spec, ContextWith("ubuntu24.04", true));
  for (const char* name : {"state-driver", "state-container-toolkit", "state-device-plugin",
                           "gpu-feature-discovery"}) {
    EXPECT_FALSE(states.at(name).enabled) << name;
    EXPECT_THAT(states.at(name).objects, IsEmpty()) << name;
  }
  EXPECT_TRUE(states.at("state-operator-validation").enabled) << "the validator always runs";
  EXPECT_NE(Find(states, "RuntimeClass", "nvidia"), nullptr);
  EXPECT_EQ(Find(states, "RuntimeClass", "nvidia-cdi"), nullptr);
  EXPECT_EQ(Find(states, "RuntimeClass", "nvidia-legacy"), nullptr);
}

TEST(SanitizedKernel, DropsTheArchitectureAndMakesALowerCaseName) {
  EXPECT_EQ(SanitizedKernel("5.15.0-105-generic"), "5.15.0-105-generic");
  EXPECT_EQ(SanitizedKernel("5.14.0-427.13.1.el9_4.x86_64"), "5.14.0-427.13.1.el9.4");
  EXPECT_EQ(SanitizedKernel("6.1.0-13-cloud-arm64"), "6.1.0-13-cloud-arm64");
  EXPECT_EQ(SanitizedKernel("5.14.0-362.el9.aarch64_64k"), "5.14.0-362.el9");
  EXPECT_EQ(SanitizedKernel("5.14.0-362.el9.aarch64"), "5.14.0-362.el9");
  EXPECT_EQ(SanitizedKernel("6.8.0-1015-AWS"), "6.8.0-1015-aws");
}

RenderContext PrecompiledFleet(std::map<std::string, std::set<std::string>> kernels,
                               int without_kernel = 0) {
  RenderContext context = ContextWith("ubuntu22.04", true);
  context.container_kernels = std::move(kernels);
  context.container_nodes_without_kernel = without_kernel;
  return context;
}

const json kPrecompiledSpec = {{"driver",
                                {{"usePrecompiled", true},
                                 {"repository", "nvcr.io/nvidia"},
                                 {"image", "driver"},
                                 {"version", "580"}}}};

TEST(PrecompiledDriver, OneDaemonSetPerKernelWithItsOwnImageAndNodes) {
  const auto states =
      Render(kPrecompiledSpec, PrecompiledFleet({{"5.15.0-105-generic", {"ubuntu22.04"}},
                                                 {"5.14.0-427.13.1.el9_4.x86_64", {"rhel9"}}}));
  const RenderedState& driver = states.at("state-driver");
  ASSERT_TRUE(driver.error.ok()) << driver.error;
  EXPECT_EQ(Find(states, "DaemonSet", "nvidia-driver-daemonset"), nullptr)
      << "no one-for-all driver beside the per-kernel ones";
  const json* ubuntu =
      Find(states, "DaemonSet", "nvidia-driver-daemonset-5.15.0-105-generic-ubuntu22.04");
  const json* rhel =
      Find(states, "DaemonSet", "nvidia-driver-daemonset-5.14.0-427.13.1.el9.4-rhel9");
  ASSERT_NE(ubuntu, nullptr);
  ASSERT_NE(rhel, nullptr);
  EXPECT_EQ(ImageOf(*ubuntu, "nvidia-driver-ctr"),
            "nvcr.io/nvidia/driver:580-5.15.0-105-generic-ubuntu22.04");
  EXPECT_EQ(ImageOf(*rhel, "nvidia-driver-ctr"),
            "nvcr.io/nvidia/driver:580-5.14.0-427.13.1.el9_4.x86_64-rhel9");
  const json& pod = (*rhel)["spec"]["template"]["spec"];
  EXPECT_EQ(pod["nodeSelector"]["feature.node.kubernetes.io/kernel-version.full"],
            "5.14.0-427.13.1.el9_4.x86_64");
  EXPECT_EQ(pod["nodeSelector"]["nvidia.com/gpu.deploy.driver"], "true");
  EXPECT_EQ((*rhel)["metadata"]["labels"]["nvidia.com/precompiled"], "true");
  EXPECT_EQ((*rhel)["spec"]["template"]["metadata"]["labels"]["nvidia.com/precompiled"], "true");
  // Distinct selectors: neither DaemonSet counts the other's pods as its own.
  EXPECT_NE((*rhel)["spec"]["selector"], (*ubuntu)["spec"]["selector"]);
  for (const json* daemonset : {rhel, ubuntu}) {
    const json& labels = (*daemonset)["spec"]["template"]["metadata"]["labels"];
    for (const auto& [key, value] : (*daemonset)["spec"]["selector"]["matchLabels"].items()) {
      EXPECT_EQ(labels.value(key, ""), value) << key;
    }
    // The holder-pod watch and the validator find every driver pod by these.
    EXPECT_EQ(labels["app"], "nvidia-driver-daemonset");
    EXPECT_EQ(labels["app.kubernetes.io/component"], "nvidia-driver");
  }
  // Each has its own digest: the image is part of how the driver is installed.
  EXPECT_NE(ubuntu->dump().find("DRIVER_CONFIG_DIGEST"), std::string::npos);
}

TEST(PrecompiledDriver, RefusesWhatNoPrecompiledImageCanServeNamingTheLabels) {
  const auto mixed = Render(
      kPrecompiledSpec, PrecompiledFleet({{"5.15.0-105-generic", {"ubuntu22.04", "ubuntu20.04"}}}));
  EXPECT_EQ(mixed.at("state-driver").error.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(mixed.at("state-driver").error.message(), HasSubstr("ubuntu20.04, ubuntu22.04"));
  EXPECT_THAT(mixed.at("state-driver").objects, IsEmpty());

  const auto unlabelled =
      Render(kPrecompiledSpec, PrecompiledFleet({{"5.15.0-105-generic", {"ubuntu22.04"}}}, 2));
  EXPECT_EQ(unlabelled.at("state-driver").error.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(unlabelled.at("state-driver").error.message(),
              HasSubstr("2 container GPU node(s) have no "
                        "feature.node.kubernetes.io/kernel-version.full label"));

  const auto no_os = Render(kPrecompiledSpec, PrecompiledFleet({{"5.15.0-105-generic", {""}}}));
  EXPECT_THAT(no_os.at("state-driver").error.message(),
              HasSubstr("feature.node.kubernetes.io/system-os_release.ID"));

  json with_gds = kPrecompiledSpec;
  with_gds["gds"] = {{"enabled", true}};
  const auto gds = Render(with_gds, PrecompiledFleet({{"5.15.0-105-generic", {"ubuntu22.04"}}}));
  EXPECT_EQ(gds.at("state-driver").error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(gds.at("state-driver").error.message(), HasSubstr("spec.gds.enabled"));
}

TEST(PrecompiledDriver, NoContainerNodeIsNoDaemonSetAndNoError) {
  RenderContext context = PrecompiledFleet({});
  context.any_container_gpu_node = false;
  const auto states = Render(kPrecompiledSpec, context);
  EXPECT_TRUE(states.at("state-driver").error.ok()) << states.at("state-driver").error;
  for (const json& object : states.at("state-driver").objects) {
    EXPECT_NE(object["kind"], "DaemonSet") << object["metadata"]["name"];
  }
}

TEST(PrecompiledDriver, ADigestIsTheImageOfEveryKernel) {
  const json spec = {{"driver",
                      {{"usePrecompiled", true},
                       {"repository", "registry.local/nvidia"},
                       {"image", "driver"},
                       {"version", "sha256:" + std::string(64, 'a')}}}};
  const auto states = Render(spec, PrecompiledFleet({{"6.8.0-1015-aws", {"ubuntu24.04"}}}));
  const json* driver =
      Find(states, "DaemonSet", "nvidia-driver-daemonset-6.8.0-1015-aws-ubuntu24.04");
  ASSERT_NE(driver, nullptr) << states.at("state-driver").error;
  EXPECT_EQ(ImageOf(*driver, "nvidia-driver-ctr"),
            "registry.local/nvidia/driver@sha256:" + std::string(64, 'a'));
}

TEST(DriverSidecars, GdsAndGdrcopyRunBesideTheDriverOnlyWhenOn) {
  const auto plain = Render(kContainerFleetSpec, ContextWith("ubuntu24.04", true));
  const json* driver = Find(plain, "DaemonSet", "nvidia-driver-daemonset");
  ASSERT_NE(driver, nullptr);
  EXPECT_EQ(ImageOf(*driver, "nvidia-fs-ctr"), "");
  EXPECT_EQ(ImageOf(*driver, "nvidia-gdrcopy-ctr"), "");
  EXPECT_EQ(driver->dump().find("GDS_ENABLED"), std::string::npos);

  const json spec = {
      {"gds", {{"enabled", true}, {"env", {{{"name", "GDS_DEBUG"}, {"value", "1"}}}}}},
      {"gdrcopy",
       {{"enabled", true},
        {"repository", "registry.local/mirror"},
        {"image", "gdrdrv"},
        {"version", "v2.5"},
        {"imagePullPolicy", "Always"},
        {"imagePullSecrets", {"mirror-pull"}}}},
      {"driver", {{"repoConfig", {{"configMapName", "apt-mirror"}}}}}};
  const auto states = Render(spec, ContextWith("ubuntu24.04", true));
  ASSERT_TRUE(states.at("state-driver").error.ok()) << states.at("state-driver").error;
  driver = Find(states, "DaemonSet", "nvidia-driver-daemonset");
  ASSERT_NE(driver, nullptr);
  EXPECT_EQ(ImageOf(*driver, "nvidia-fs-ctr"),
            "nvcr.io/nvidia/cloud-native/nvidia-fs:2.29.4-ubuntu24.04");
  EXPECT_EQ(ImageOf(*driver, "nvidia-gdrcopy-ctr"),
            "registry.local/mirror/gdrdrv:v2.5-ubuntu24.04");
  const json& pod = (*driver)["spec"]["template"]["spec"];
  std::map<std::string, json> containers;
  for (const json& container : pod["containers"]) containers[container["name"]] = container;
  const auto env_of = [&](const std::string& container, const std::string& name) {
    for (const json& variable : containers[container].value("env", json::array())) {
      if (variable["name"] == name) return variable.value("value", "");
    }
    return std::string("<unset>");
  };
  EXPECT_EQ(env_of("nvidia-driver-ctr", "GDS_ENABLED"), "true");
  EXPECT_EQ(env_of("nvidia-driver-ctr", "GDRCOPY_ENABLED"), "true");
  EXPECT_EQ(env_of("nvidia-fs-ctr", "GDS_DEBUG"), "1");
  EXPECT_EQ(containers["nvidia-gdrcopy-ctr"]["imagePullPolicy"], "Always");
  EXPECT_THAT(pod["imagePullSecrets"].dump(), HasSubstr("mirror-pull"));
  // The sidecars fetch packages too: the admin's repository list reaches them.
  for (const char* name : {"nvidia-driver-ctr", "nvidia-fs-ctr", "nvidia-gdrcopy-ctr"}) {
    EXPECT_THAT(containers[name]["volumeMounts"].dump(), HasSubstr("/etc/apt/sources.list.d"))
        << name;
  }
  const json* plugin = Find(states, "DaemonSet", "nvidia-device-plugin-daemonset");
  ASSERT_NE(plugin, nullptr);
  const std::string plugin_env = (*plugin)["spec"]["template"]["spec"]["containers"].dump();
  for (const char* flag : {"GDS_ENABLED", "MOFED_ENABLED", "GDRCOPY_ENABLED"}) {
    EXPECT_THAT(plugin_env, HasSubstr(flag));
  }
}

TEST(DriverSidecars, TheirImagesNeedTheNodesOsAsTheDriversDo) {
  const auto states = Render({{"gds", {{"enabled", true}}},
                              {"driver",
                               {{"repository", "nvcr.io/nvidia"},
                                {"image", "driver"},
                                {"version", "sha256:" + std::string(64, 'b')}}}},
                             ContextWith("", true));
  EXPECT_EQ(states.at("state-driver").error.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(states.at("state-driver").error.message(), HasSubstr("spec.gds"));
}

TEST(DcgmRender, NvidiasNilDefaultsRunTheHostEngineAndTheExporterThatUsesIt) {
  const auto states = Render(kContainerFleetSpec, ContextWith("ubuntu24.04", true));
  for (const char* name : {"state-dcgm", "state-dcgm-exporter"}) {
    ASSERT_TRUE(states.at(name).enabled) << name;
    EXPECT_TRUE(states.at(name).error.ok()) << name << ": " << states.at(name).error;
  }
  const json* engine = Find(states, "DaemonSet", "nvidia-dcgm");
  const json* exporter = Find(states, "DaemonSet", "nvidia-dcgm-exporter");
  ASSERT_NE(engine, nullptr);
  ASSERT_NE(exporter, nullptr);
  EXPECT_EQ(ImageOf(*engine, "nvidia-dcgm-ctr"),
            "nvcr.io/nvidia/cloud-native/dcgm:4.6.0-1-ubuntu24.04");
  EXPECT_EQ(ImageOf(*exporter, "nvidia-dcgm-exporter"),
            "nvcr.io/nvidia/k8s/dcgm-exporter:4.6.0-4.8.3-distroless");
  EXPECT_EQ(ImageOf(*exporter, "toolkit-validation"), "registry.local/gpuop:0.5.0");
  EXPECT_EQ(EnvOf(*exporter, "nvidia-dcgm-exporter", "DCGM_REMOTE_HOSTENGINE_INFO"),
            "nvidia-dcgm:5555");
  EXPECT_EQ(EnvOf(*exporter, "nvidia-dcgm-exporter", "DCGM_EXPORTER_COLLECTORS"),
            "/etc/dcgm-exporter/dcp-metrics-included.csv");
  const json& pod = (*exporter)["spec"]["template"]["spec"];
  EXPECT_EQ(pod["automountServiceAccountToken"], false) << "no API read is turned on";
  EXPECT_EQ(pod["runtimeClassName"], "nvidia");
  EXPECT_EQ(pod["nodeSelector"]["nvidia.com/gpu.deploy.dcgm-exporter"], "true");
  const json* engine_service = Find(states, "Service", "nvidia-dcgm");
  ASSERT_NE(engine_service, nullptr);
  EXPECT_EQ((*engine_service)["spec"]["internalTrafficPolicy"], "Local");
  const json* service = Find(states, "Service", "nvidia-dcgm-exporter");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ((*service)["spec"]["ports"][0]["name"], "gpu-metrics");
  EXPECT_EQ((*service)["spec"]["type"], "ClusterIP");
  EXPECT_EQ(Find(states, "ServiceMonitor", "nvidia-dcgm-exporter"), nullptr);
}

TEST(DcgmRender, EveryExporterKeyReachesItsObject) {
  const json spec = json::parse(R"({
    "dcgm": {"enabled": false},
    "dcgmExporter": {
      "env": [{"name": "DCGM_REMOTE_HOSTENGINE_INFO", "value": "localhost:5555"}],
      "config": {"name": "my-metrics"},
      "serviceMonitor": {"enabled": true, "interval": "30s", "scrapeTimeout": "10s",
                         "honorLabels": true, "additionalLabels": {"release": "prom"},
                         "relabelings": [{"action": "labeldrop", "regex": "pod_uid"}]},
      "service": {"type": "NodePort", "internalTrafficPolicy": "Local"},
      "hostPID": true,
      "hpcJobMapping": {"enabled": true, "directory": "/var/lib/slurm-jobs"},
      "enablePodLabels": true, "enablePodUID": true,
      "podLabelAllowlistRegex": ["^app$", "^team-.*"],
      "annotations": {"example.com/owner": "gpu-team"}
    }})");
  const auto states = Render(spec, ContextWith("ubuntu24.04", true));
  ASSERT_TRUE(states.at("state-dcgm-exporter").error.ok())
      << states.at("state-dcgm-exporter").error;
  EXPECT_FALSE(states.at("state-dcgm").enabled);
  const json* exporter = Find(states, "DaemonSet", "nvidia-dcgm-exporter");
  ASSERT_NE(exporter, nullptr);
  const std::string main = "nvidia-dcgm-exporter";
  const json& pod = (*exporter)["spec"]["template"]["spec"];
  // The admin's engine on the host: reached through the host's network.
  EXPECT_EQ(EnvOf(*exporter, main, "DCGM_REMOTE_HOSTENGINE_INFO"), "localhost:5555");
  EXPECT_EQ(pod["hostNetwork"], true);
  EXPECT_EQ(pod["dnsPolicy"], "ClusterFirstWithHostNet");
  EXPECT_EQ(EnvOf(*exporter, main, "DCGM_EXPORTER_COLLECTORS"),
            "/etc/dcgm-exporter/dcgm-metrics.csv");
  EXPECT_THAT(pod["volumes"].dump(), HasSubstr("my-metrics"));
  EXPECT_EQ(EnvOf(*exporter, main, "DCGM_EXPORTER_KUBERNETES_ENABLE_POD_LABELS"), "true");
  EXPECT_EQ(EnvOf(*exporter, main, "DCGM_EXPORTER_KUBERNETES_ENABLE_POD_UID"), "true");
  EXPECT_EQ(EnvOf(*exporter, main, "DCGM_EXPORTER_KUBERNETES_POD_LABEL_ALLOWLIST_REGEX"),
            "^app$,^team-.*");
  EXPECT_EQ(pod["automountServiceAccountToken"], true) << "pod labels are read from the API";
  EXPECT_EQ(EnvOf(*exporter, main, "DCGM_HPC_JOB_MAPPING_DIR"), "/var/lib/slurm-jobs");
  EXPECT_THAT(pod["volumes"].dump(), HasSubstr("/var/lib/slurm-jobs"));
  EXPECT_EQ(pod["hostPID"], true);
  EXPECT_EQ((*exporter)["spec"]["template"]["metadata"]["annotations"]["example.com/owner"],
            "gpu-team");
  const json* service = Find(states, "Service", "nvidia-dcgm-exporter");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ((*service)["spec"]["type"], "NodePort");
  EXPECT_EQ((*service)["spec"]["internalTrafficPolicy"], "Local");
  const json* monitor = Find(states, "ServiceMonitor", "nvidia-dcgm-exporter");
  ASSERT_NE(monitor, nullptr);
  EXPECT_EQ((*monitor)["metadata"]["labels"]["release"], "prom");
  const json& endpoint = (*monitor)["spec"]["endpoints"][0];
  EXPECT_EQ(endpoint["port"], "gpu-metrics");
  EXPECT_EQ(endpoint["interval"], "30s");
  EXPECT_EQ(endpoint["scrapeTimeout"], "10s");
  EXPECT_EQ(endpoint["honorLabels"], true);
  EXPECT_EQ(endpoint["relabelings"][0]["action"], "labeldrop");
  EXPECT_EQ((*monitor)["spec"]["namespaceSelector"]["matchNames"][0], "gpu-operator");
}

// The MPS control daemon: the device plugin's image, switch, config, MIG strategy and MPS root.
TEST(MpsDaemonRender, ItFollowsTheDevicePluginsSectionAndConfig) {
  const json spec = json::parse(R"({
    "devicePlugin": {"repository": "registry.local/nvidia", "image": "k8s-device-plugin",
                     "version": "v0.17.4", "config": {"name": "sharing", "default": "mps"},
                     "mps": {"root": "/var/run/mps"},
                     "env": [{"name": "EXTRA", "value": "1"}]},
    "mig": {"strategy": "mixed"}})");
  const auto states = Render(spec, ContextWith("ubuntu24.04", true));
  ASSERT_TRUE(states.at("state-mps-control-daemon").error.ok())
      << states.at("state-mps-control-daemon").error;
  const json* daemon = Find(states, "DaemonSet", "nvidia-device-plugin-mps-control-daemon");
  ASSERT_NE(daemon, nullptr);
  const std::string main = "mps-control-daemon-ctr";
  EXPECT_EQ(ImageOf(*daemon, main), "registry.local/nvidia/k8s-device-plugin:v0.17.4");
  EXPECT_EQ(ImageOf(*daemon, "mps-control-daemon-mounts"),
            "registry.local/nvidia/k8s-device-plugin:v0.17.4");
  EXPECT_EQ(ImageOf(*daemon, "toolkit-validation"), "registry.local/gpuop:0.5.0");
  EXPECT_EQ(EnvOf(*daemon, main, "MIG_STRATEGY"), "mixed");
  EXPECT_EQ(EnvOf(*daemon, main, "NVIDIA_MIG_MONITOR_DEVICES"), "all");
  EXPECT_EQ(EnvOf(*daemon, main, "MPS_ROOT"), "/var/run/mps");
  EXPECT_EQ(EnvOf(*daemon, main, "CONFIG_FILE"), "/config/config.yaml");
  EXPECT_EQ(EnvOf(*daemon, main, "EXTRA"), "1");
  EXPECT_EQ(EnvOf(*daemon, "config-manager", "PROCESS_TO_SIGNAL"), "/usr/bin/mps-control-daemon");
  EXPECT_EQ(EnvOf(*daemon, "config-manager", "DEFAULT_CONFIG"), "mps");
  const json& pod = (*daemon)["spec"]["template"]["spec"];
  EXPECT_EQ(pod["serviceAccountName"], "nvidia-device-plugin");
  EXPECT_EQ(pod["runtimeClassName"], "nvidia");
  EXPECT_EQ(pod["hostPID"], true);
  EXPECT_FALSE(pod.contains("shareProcessNamespace")) << "the API refuses it beside hostPID";
  EXPECT_EQ(pod["nodeSelector"]["nvidia.com/mps.capable"], "true");
  EXPECT_EQ(pod["nodeSelector"]["nvidia.com/gpu.deploy.device-plugin"], "true");
  EXPECT_THAT(pod["volumes"].dump(), HasSubstr("/var/run/mps/shm"));
  EXPECT_THAT(pod["volumes"].dump(), HasSubstr(kCheckedDevicePluginConfigs));

  const auto off = Render(json::parse(R"({"devicePlugin": {"enabled": false}})"),
                          ContextWith("ubuntu24.04", true));
  EXPECT_FALSE(off.at("state-mps-control-daemon").enabled) << "the device plugin's switch";
}

TEST(NodeStatusExporterRender, OffUnlessEnabledThenGpuopsBinaryWithNvidiasPort) {
  EXPECT_FALSE(Render(kContainerFleetSpec, ContextWith("ubuntu24.04", true))
                   .at("state-node-status-exporter")
                   .enabled);
  const json spec = json::parse(R"({
    "nodeStatusExporter": {"enabled": true, "env": [{"name": "LOG_FORMAT", "value": "json"}]},
    "hostPaths": {"driverInstallDir": "/opt/nvidia/driver"}})");
  const auto states = Render(spec, ContextWith("ubuntu24.04", true));
  ASSERT_TRUE(states.at("state-node-status-exporter").error.ok())
      << states.at("state-node-status-exporter").error;
  const json* exporter = Find(states, "DaemonSet", "nvidia-node-status-exporter");
  ASSERT_NE(exporter, nullptr);
  const std::string main = "nvidia-node-status-exporter";
  EXPECT_EQ(ImageOf(*exporter, main), "registry.local/gpuop:0.5.0");
  EXPECT_EQ(EnvOf(*exporter, main, "METRICS_PORT"), "8000");
  EXPECT_EQ(EnvOf(*exporter, main, "LOG_FORMAT"), "json");
  // It checks the driver where the driver step does.
  EXPECT_EQ(EnvOf(*exporter, main, "DRIVER_INSTALL_DIR_CTR_PATH"), "/opt/nvidia/driver");
  const json& pod = (*exporter)["spec"]["template"]["spec"];
  EXPECT_FALSE(pod.contains("runtimeClassName")) << "it must run while the runtime is broken";
  EXPECT_EQ(pod["nodeSelector"]["nvidia.com/gpu.deploy.node-status-exporter"], "true");
  EXPECT_THAT(pod["volumes"].dump(), HasSubstr("/opt/nvidia/driver"));
  const json* service = Find(states, "Service", "nvidia-node-status-exporter");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ((*service)["spec"]["ports"][0]["port"], 8000);
  const json* monitor = Find(states, "ServiceMonitor", "nvidia-node-status-exporter");
  ASSERT_NE(monitor, nullptr) << "applied wherever Prometheus Operator is, as NVIDIA's";
  EXPECT_EQ((*monitor)["spec"]["endpoints"][0]["port"], "node-status");
}

TEST(DcgmRender, BadExporterSettingsAreRefusedNamingTheField) {
  const auto relabel = Render(
      {{"dcgmExporter", {{"serviceMonitor", {{"enabled", true}, {"relabelings", {"drop"}}}}}}},
      ContextWith("ubuntu24.04", true));
  EXPECT_THAT(relabel.at("state-dcgm-exporter").error.message(),
              HasSubstr("spec.dcgmExporter.serviceMonitor.relabelings"));
  absl::StatusOr<api::ClusterPolicy> parsed = api::ParseClusterPolicy(
      PolicyObject({{"dcgmExporter", {{"service", {{"type", "ExternalName"}}}}}}));
  EXPECT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("spec.dcgmExporter.service.type"));
  parsed = api::ParseClusterPolicy(
      PolicyObject({{"dcgmExporter", {{"hpcJobMapping", {{"directory", "jobs"}}}}}}));
  EXPECT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("spec.dcgmExporter.hpcJobMapping.directory"));
}

}  // namespace
}  // namespace gpuop::op
