// RenderOperands on the manifests gpuop ships (deployments/operands, embedded) and on small
// hand-written ones for the rules the shipped ones do not exercise.

#include "operator/operand_renderer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "api/labels.h"
#include "operator/embedded_manifests.h"
#include "operator/operand_objects.h"

namespace gpuop::op {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

json SeedPolicyObject() {
  return json::parse(R"({
    "apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy",
    "metadata": {"name": "cluster-policy", "uid": "0b7c-uid", "generation": 3,
                 "creationTimestamp": "2026-11-20T10:00:00Z"},
    "spec": {
      "sandboxWorkloads": {"enabled": true, "defaultWorkload": "vm-passthrough", "mode": "kata"},
      "vfioManager": {"enabled": true, "repository": "nvcr.io/nvidia/cloud-native",
                      "image": "k8s-driver-manager", "version": "v0.12.0",
                      "env": [{"name": "BIND_NVSWITCHES", "value": "true"},
                              {"name": "HOST_ROOT", "value": "/hostroot"}]},
      "ccManager": {"enabled": true, "defaultMode": "on", "imagePullSecrets": ["ngc", "ngc"],
                    "imagePullPolicy": "Always",
                    "resources": {"limits": {"memory": "300Mi"}}, "args": ["--verbose"]},
      "kataManager": {"enabled": true, "config": {
        "artifactsDir": "/opt/nvidia-gpu-operator/artifacts/runtimeclasses",
        "runtimeClasses": [
          {"name": "kata-qemu-nvidia-gpu",
           "artifacts": {"url": "registry.local/kata-gpu-artifacts:1"}},
          {"name": "kata-qemu-nvidia-gpu-snp", "nodeSelector": {"nvidia.com/cc.capable": "true"},
           "artifacts": {"url": "registry.local/kata-gpu-artifacts:1-snp",
                         "pullSecret": "registry-cred"}}]}},
      "sandboxDevicePlugin": {"enabled": true},
      "kataSandboxDevicePlugin": {"enabled": true},
      "validator": {"enabled": true}
    }
  })");
}

api::ClusterPolicy Parse(const json& object) {
  absl::StatusOr<api::ClusterPolicy> policy = api::ParseClusterPolicy(object);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *policy : api::ClusterPolicy{};
}

const RenderContext kContext{.operator_namespace = "gpu-operator",
                             .gpuop_image = "registry.local/gpuop:0.4.0"};

std::map<std::string, RenderedState> Render(const json& object) {
  std::map<std::string, RenderedState> by_name;
  for (RenderedState& state : RenderOperands(Parse(object), kContext, EmbeddedManifests())) {
    by_name[state.name] = std::move(state);
  }
  return by_name;
}

const json* Find(const std::map<std::string, RenderedState>& states, const std::string& kind,
                 const std::string& name) {
  for (const auto& [state_name, state] : states) {
    for (const json& object : state.objects) {
      if (object["kind"] == kind && object["metadata"]["name"] == name) return &object;
    }
  }
  return nullptr;
}

std::set<std::string> EnabledStates(const std::map<std::string, RenderedState>& states) {
  std::set<std::string> names;
  for (const auto& [name, state] : states) {
    if (state.enabled) names.insert(name);
  }
  return names;
}

bool HasPlaceholder(const json& value) {
  if (value.is_string()) return value.get<std::string>().find("${") != std::string::npos;
  for (const json& item : value) {
    if (item.is_structured() || item.is_string()) {
      if (HasPlaceholder(item)) return true;
    }
  }
  return false;
}

// The container path's states, on (NVIDIA's nil defaults) unless the policy turns them off.
// The node status exporter is off unless enabled, as NVIDIA's.
const std::set<std::string> kContainerStates = {
    "state-driver",        "state-container-toolkit",  "state-operator-validation",
    "state-device-plugin", "state-mps-control-daemon", "state-dcgm",
    "state-dcgm-exporter", "gpu-feature-discovery",    "state-mig-manager"};

std::set<std::string> With(std::set<std::string> states, const std::set<std::string>& more) {
  states.insert(more.begin(), more.end());
  return states;
}

json EnvOf(const json& container, const std::string& name) {
  for (const json& variable : container["env"]) {
    if (variable["name"] == name) return variable;
  }
  return nullptr;
}

TEST(RenderOperands, KataModeDeploysTheSandboxStatesAndEveryObjectIsMarked) {
  const auto states = Render(SeedPolicyObject());
  EXPECT_EQ(EnabledStates(states),
            With(kContainerStates,
                 {"pre-requisites", "state-sandbox-validation", "state-vfio-manager",
                  "state-kata-device-plugin", "state-kata-manager", "state-cc-manager"}));
  int objects = 0;
  for (const auto& [name, state] : states) {
    ASSERT_TRUE(state.error.ok()) << name << ": " << state.error;
    for (const json& object : state.objects) {
      ++objects;
      SCOPED_TRACE(ManifestKey(object));
      EXPECT_FALSE(HasPlaceholder(object));
      absl::StatusOr<kube::Resource> resource = ResourceOf(object);
      ASSERT_TRUE(resource.ok()) << resource.status();
      const json& metadata = object["metadata"];
      EXPECT_EQ(metadata.contains("namespace"), resource->namespaced);
      if (resource->namespaced) {
        EXPECT_EQ(metadata["namespace"], "gpu-operator");
      }
      EXPECT_EQ(metadata["labels"][api::kManagedByLabel], "gpuop");
      EXPECT_EQ(metadata["labels"][api::kOperandStateLabel], name);
      ASSERT_EQ(metadata["ownerReferences"].size(), 1u);
      EXPECT_EQ(metadata["ownerReferences"][0]["uid"], "0b7c-uid");
      EXPECT_EQ(metadata["ownerReferences"][0]["kind"], "ClusterPolicy");
      EXPECT_EQ(metadata["ownerReferences"][0]["controller"], true);
      EXPECT_EQ(metadata["annotations"][api::kAppliedHashAnnotation].get<std::string>().size(),
                16u);
    }
  }
  EXPECT_GT(objects, 20);
}

TEST(RenderOperands, EachDaemonSetRunsWhereItsDeployLabelIsTrue) {
  const auto states = Render(SeedPolicyObject());
  const std::set<std::string> operands(std::begin(api::kAllDeployOperands),
                                       std::end(api::kAllDeployOperands));
  std::map<std::string, std::string> selector_of;
  for (const auto& [name, state] : states) {
    for (const json& object : state.objects) {
      if (object["kind"] != "DaemonSet") continue;
      json selector = object["spec"]["template"]["spec"]["nodeSelector"];
      // NVIDIA's MPS daemon also needs GFD's word that the node can run MPS.
      if (object["metadata"]["name"] == "nvidia-device-plugin-mps-control-daemon") {
        EXPECT_EQ(selector["nvidia.com/mps.capable"], "true");
        selector.erase("nvidia.com/mps.capable");
      }
      ASSERT_EQ(selector.size(), 1u) << object["metadata"]["name"];
      const std::string key = selector.begin().key();
      ASSERT_TRUE(key.starts_with(api::kDeployLabelPrefix)) << key;
      EXPECT_TRUE(operands.contains(key.substr(std::string(api::kDeployLabelPrefix).size())));
      EXPECT_EQ(selector.begin().value(), "true");
      // The pod template matches the DaemonSet's own selector.
      for (const auto& [label, value] : object["spec"]["selector"]["matchLabels"].items()) {
        EXPECT_EQ(object["spec"]["template"]["metadata"]["labels"][label], value);
      }
      selector_of[object["metadata"]["name"]] = key;
    }
  }
  EXPECT_EQ(selector_of["nvidia-vfio-manager"], "nvidia.com/gpu.deploy.vfio-manager");
  EXPECT_EQ(selector_of["nvidia-kata-sandbox-device-plugin-daemonset"],
            "nvidia.com/gpu.deploy.kata-sandbox-device-plugin");
  EXPECT_EQ(selector_of["nvidia-cc-manager"], "nvidia.com/gpu.deploy.cc-manager");
  EXPECT_EQ(selector_of["nvidia-kata-manager"], "nvidia.com/gpu.deploy.kata-manager");
  EXPECT_EQ(selector_of["nvidia-sandbox-validator"], "nvidia.com/gpu.deploy.sandbox-validator");
}

TEST(RenderOperands, GpuopOperandsRunGpuopsImageWhateverThePolicyNames) {
  const auto states = Render(SeedPolicyObject());
  const json* vfio = Find(states, "DaemonSet", "nvidia-vfio-manager");
  ASSERT_NE(vfio, nullptr);
  const json& container = (*vfio)["spec"]["template"]["spec"]["containers"][0];
  // The policy names NVIDIA's driver-manager image, which has no `gpuop vfio-manager`.
  EXPECT_EQ(container["image"], "registry.local/gpuop:0.4.0");
  EXPECT_EQ(container["command"], json::parse(R"(["gpuop", "vfio-manager"])"));
  EXPECT_EQ(container["imagePullPolicy"], "IfNotPresent");
  // env: set where the manifest has the name, appended otherwise.
  EXPECT_EQ(EnvOf(container, "HOST_ROOT")["value"], "/hostroot");
  EXPECT_EQ(EnvOf(container, "BIND_NVSWITCHES")["value"], "true");
  EXPECT_EQ(EnvOf(container, "NODE_NAME")["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName");
}

TEST(RenderOperands, TheSectionsCommonFieldsReachTheDaemonSet) {
  const auto states = Render(SeedPolicyObject());
  const json* cc = Find(states, "DaemonSet", "nvidia-cc-manager");
  ASSERT_NE(cc, nullptr);
  const json& pod = (*cc)["spec"]["template"]["spec"];
  const json& container = pod["containers"][0];
  EXPECT_EQ(pod["imagePullSecrets"], json::parse(R"([{"name": "ngc"}])"));
  EXPECT_EQ(container["imagePullPolicy"], "Always");
  EXPECT_EQ(container["resources"], json::parse(R"({"limits": {"memory": "300Mi"}})"));
  // Our subcommand keeps its flags; the policy's come after them.
  EXPECT_EQ(container["args"].back(), "--verbose");
  EXPECT_EQ(container["args"].front(), "--metrics-address=:8080");
  EXPECT_EQ(EnvOf(container, "DEFAULT_CC_MODE")["value"], "on");
}

// The hostPath of the volume `name` in a DaemonSet, "" when it has none.
std::string HostPathOf(const json& daemonset, const std::string& name) {
  for (const json& volume : daemonset["spec"]["template"]["spec"]["volumes"]) {
    if (volume["name"] == name && volume.contains("hostPath")) return volume["hostPath"]["path"];
  }
  return "";
}

TEST(RenderOperands, RootFsMovesTheHostMountsAndTheDevicePathsButNotTheKubeletsFolders) {
  const auto plain = Render(SeedPolicyObject());
  const json* plugin = Find(plain, "DaemonSet", "nvidia-kata-sandbox-device-plugin-daemonset");
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(HostPathOf(*plugin, "host-sys"), "/sys");
  EXPECT_EQ(EnvOf((*plugin)["spec"]["template"]["spec"]["containers"][0], "DEV_ROOT")["value"],
            "/");

  json object = SeedPolicyObject();
  object["spec"]["hostPaths"] = {{"rootFS", "/var/lib/sim-node/"}};
  const auto states = Render(object);
  plugin = Find(states, "DaemonSet", "nvidia-kata-sandbox-device-plugin-daemonset");
  const json* vfio = Find(states, "DaemonSet", "nvidia-vfio-manager");
  ASSERT_NE(plugin, nullptr);
  ASSERT_NE(vfio, nullptr);
  EXPECT_EQ(HostPathOf(*plugin, "host-sys"), "/var/lib/sim-node/sys");
  EXPECT_EQ(HostPathOf(*plugin, "host-dev"), "/var/lib/sim-node/dev");
  EXPECT_EQ(HostPathOf(*vfio, "host-root"), "/var/lib/sim-node");
  EXPECT_EQ(HostPathOf(*plugin, "device-plugins"), "/var/lib/kubelet/device-plugins");
  EXPECT_EQ(HostPathOf(*plugin, "validations"), "/run/nvidia/validations");
  EXPECT_EQ(EnvOf((*plugin)["spec"]["template"]["spec"]["containers"][0], "DEV_ROOT")["value"],
            "/var/lib/sim-node/");
}

TEST(RenderOperands, NoOperandNeedsAShellOrCoreutilsInTheImage) {
  for (const auto& [name, state] : Render(SeedPolicyObject())) {
    for (const json& object : state.objects) {
      if (object["kind"] != "DaemonSet") continue;
      const json& pod = object["spec"]["template"]["spec"];
      for (const char* list : {"initContainers", "containers"}) {
        if (!pod.contains(list)) continue;
        for (const json& container : pod[list]) {
          SCOPED_TRACE(ManifestKey(object) + " " + container["name"].get<std::string>());
          // NVIDIA's own images (the KubeVirt plugin, the container path's operands) bring
          // their entrypoint and shell; ours run gpuop.
          if (container.value("image", "") == kContext.gpuop_image &&
              container.contains("command")) {
            EXPECT_EQ(container["command"][0], "gpuop");
          }
          if (container.value("image", "") == kContext.gpuop_image) {
            EXPECT_FALSE(container.contains("lifecycle"));
          }
        }
      }
    }
  }
}

TEST(RenderOperands, CcModeDefaultsToOffWhenThePolicyHasNone) {
  json object = SeedPolicyObject();
  object["spec"]["ccManager"].erase("defaultMode");
  const auto states = Render(object);
  const json* cc = Find(states, "DaemonSet", "nvidia-cc-manager");
  ASSERT_NE(cc, nullptr);
  EXPECT_EQ(EnvOf((*cc)["spec"]["template"]["spec"]["containers"][0], "DEFAULT_CC_MODE")["value"],
            "off");
}

TEST(RenderOperands, TheValidatorWaitsForTheCcManagerOnlyWhereOneIsDeployed) {
  const auto names = [](const std::map<std::string, RenderedState>& states) {
    std::vector<std::string> init;
    const json* validator = Find(states, "DaemonSet", "nvidia-sandbox-validator");
    EXPECT_NE(validator, nullptr);
    if (validator == nullptr) return init;
    for (const json& container : (*validator)["spec"]["template"]["spec"]["initContainers"]) {
      init.push_back(container["name"]);
    }
    return init;
  };
  json object = SeedPolicyObject();
  EXPECT_THAT(names(Render(object)),
              ::testing::ElementsAre("cc-manager-validation", "vfio-pci-validation"));
  object["spec"]["ccManager"]["enabled"] = false;
  EXPECT_THAT(names(Render(object)), ::testing::ElementsAre("vfio-pci-validation"));
}

TEST(RenderOperands, OneRuntimeClassPerKataEntryScheduledWhereTheKataManagerRuns) {
  const auto states = Render(SeedPolicyObject());
  const json* plain = Find(states, "RuntimeClass", "kata-qemu-nvidia-gpu");
  const json* snp = Find(states, "RuntimeClass", "kata-qemu-nvidia-gpu-snp");
  ASSERT_NE(plain, nullptr);
  ASSERT_NE(snp, nullptr);
  EXPECT_EQ((*plain)["handler"], "kata-qemu-nvidia-gpu");
  EXPECT_EQ((*plain)["scheduling"]["nodeSelector"],
            json::parse(R"({"nvidia.com/gpu.deploy.kata-manager": "true"})"));
  EXPECT_EQ((*snp)["handler"], "kata-qemu-nvidia-gpu-snp");
  EXPECT_EQ((*snp)["scheduling"]["nodeSelector"],
            json::parse(R"({"nvidia.com/gpu.deploy.kata-manager": "true",
                            "nvidia.com/cc.capable": "true"})"));
  EXPECT_EQ((*snp)["metadata"]["labels"]["nvidia.com/kata-runtime-class"], "true");
  const json* nvidia = Find(states, "RuntimeClass", "nvidia");
  ASSERT_NE(nvidia, nullptr);
  EXPECT_EQ((*nvidia)["handler"], "nvidia");
}

TEST(RenderOperands, TheKataManagerConfigAndItsRightsComeFromThePolicy) {
  const auto states = Render(SeedPolicyObject());
  const json* config = Find(states, "ConfigMap", "nvidia-kata-manager-config");
  ASSERT_NE(config, nullptr);
  const json parsed = json::parse((*config)["data"]["config.yaml"].get<std::string>());
  EXPECT_EQ(parsed["artifactsDir"], "/opt/nvidia-gpu-operator/artifacts/runtimeclasses");
  ASSERT_EQ(parsed["runtimeClasses"].size(), 2u);
  EXPECT_EQ(parsed["runtimeClasses"][1]["artifacts"]["pullSecret"], "registry-cred");

  const json* role = Find(states, "Role", "nvidia-kata-manager");
  ASSERT_NE(role, nullptr);
  std::vector<std::string> secrets;
  for (const json& rule : (*role)["rules"]) {
    if (rule["resources"] == json::array({"secrets"})) secrets = rule["resourceNames"];
  }
  EXPECT_THAT(secrets, ElementsAre("registry-cred"));

  json without = SeedPolicyObject();
  without["spec"]["kataManager"]["config"]["runtimeClasses"][1]["artifacts"].erase("pullSecret");
  const auto narrowed = Render(without);
  const json* narrow = Find(narrowed, "Role", "nvidia-kata-manager");
  ASSERT_NE(narrow, nullptr);
  for (const json& rule : (*narrow)["rules"]) {
    EXPECT_NE(rule["resources"], json::array({"secrets"})) << "no secret to read, no rule";
  }
}

TEST(RenderOperands, AKataRuntimeClassNamedLikeTheContainerOneFailsOnlyItsState) {
  json object = SeedPolicyObject();
  object["spec"]["kataManager"]["config"]["runtimeClasses"][0]["name"] = "nvidia";
  const auto states = Render(object);
  EXPECT_THAT(states.at("state-kata-manager").error.message(),
              HasSubstr("\"nvidia\" is the container path's RuntimeClass"));
  EXPECT_TRUE(states.at("state-kata-manager").objects.empty());
  EXPECT_TRUE(states.at("state-vfio-manager").error.ok());
  EXPECT_FALSE(states.at("state-vfio-manager").objects.empty());
}

TEST(RenderOperands, KubevirtModeRunsNvidiasPluginFromThePolicysImage) {
  json object = SeedPolicyObject();
  object["spec"]["sandboxWorkloads"]["mode"] = "kubevirt";
  object["spec"]["sandboxDevicePlugin"] = json::parse(
      R"({"enabled": true, "repository": "nvcr.io/nvidia", "image": "kubevirt-gpu-device-plugin",
          "version": "v1.6.0", "args": ["--verbose"]})");
  const auto states = Render(object);
  EXPECT_EQ(
      EnabledStates(states),
      With(kContainerStates, {"pre-requisites", "state-sandbox-validation", "state-vfio-manager",
                              "state-sandbox-device-plugin", "state-kata-manager"}));
  const json* plugin = Find(states, "DaemonSet", "nvidia-sandbox-device-plugin-daemonset");
  ASSERT_NE(plugin, nullptr);
  const json& pod = (*plugin)["spec"]["template"]["spec"];
  EXPECT_EQ(pod["containers"][0]["image"], "nvcr.io/nvidia/kubevirt-gpu-device-plugin:v1.6.0");
  EXPECT_EQ(pod["containers"][0]["args"], json::parse(R"(["--verbose"])"));  // Replaced.
  EXPECT_EQ(pod["initContainers"][0]["image"], "registry.local/gpuop:0.4.0");

  object["spec"]["sandboxDevicePlugin"].erase("version");
  const auto broken = Render(object);
  EXPECT_THAT(broken.at("state-sandbox-device-plugin").error.message(),
              HasSubstr("spec.sandboxDevicePlugin: version not set"));
  EXPECT_TRUE(broken.at("state-vfio-manager").error.ok());
}

TEST(RenderOperands, WithoutSandboxWorkloadsOnlyTheContainerPathIsDeployed) {
  json object = SeedPolicyObject();
  object["spec"]["sandboxWorkloads"]["enabled"] = false;
  EXPECT_EQ(EnabledStates(Render(object)), With(kContainerStates, {"pre-requisites"}));
}

TEST(RenderOperands, ClusterWideDaemonSetSettingsApplyToEveryDaemonSet) {
  json object = SeedPolicyObject();
  object["spec"]["daemonsets"] = json::parse(R"({
    "labels": {"team": "gpu", "app": "must-not-replace-the-selector-label"},
    "annotations": {"owner": "infra"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu",
                     "effect": "NoSchedule"}],
    "priorityClassName": "gpu-critical",
    "updateStrategy": "RollingUpdate",
    "rollingUpdate": {"maxUnavailable": "25%"}})");
  const auto states = Render(object);
  for (const auto& [name, state] : states) {
    for (const json& ds : state.objects) {
      if (ds["kind"] != "DaemonSet") continue;
      SCOPED_TRACE(ds["metadata"]["name"]);
      const json& pod = ds["spec"]["template"];
      EXPECT_EQ(pod["metadata"]["labels"]["team"], "gpu");
      EXPECT_EQ(pod["metadata"]["labels"]["app"], ds["spec"]["selector"]["matchLabels"]["app"]);
      EXPECT_EQ(pod["metadata"]["annotations"]["owner"], "infra");
      EXPECT_EQ(pod["spec"]["tolerations"].size(), 1u);
      EXPECT_EQ(pod["spec"]["tolerations"][0]["key"], "dedicated");
      EXPECT_EQ(pod["spec"]["priorityClassName"], "gpu-critical");
      EXPECT_EQ(ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"], "25%");
    }
  }
}

TEST(RenderOperands, TheHashMovesWithWhatChangedOnly) {
  const auto before = Render(SeedPolicyObject());
  const auto again = Render(SeedPolicyObject());
  json changed = SeedPolicyObject();
  changed["spec"]["vfioManager"]["env"][0]["value"] = "false";
  const auto after = Render(changed);
  const auto hash = [](const std::map<std::string, RenderedState>& states, const char* kind,
                       const char* name) {
    return (*Find(states, kind, name))["metadata"]["annotations"][api::kAppliedHashAnnotation];
  };
  EXPECT_EQ(hash(before, "DaemonSet", "nvidia-vfio-manager"),
            hash(again, "DaemonSet", "nvidia-vfio-manager"));
  EXPECT_NE(hash(before, "DaemonSet", "nvidia-vfio-manager"),
            hash(after, "DaemonSet", "nvidia-vfio-manager"));
  EXPECT_EQ(hash(before, "ServiceAccount", "nvidia-vfio-manager"),
            hash(after, "ServiceAccount", "nvidia-vfio-manager"));
}

TEST(RenderOperands, AnUndefinedVariableIsAManifestBugNamedWithItsFile) {
  const std::vector<ManifestFile> files = {
      {"state-vfio-manager", "0100_sa.yaml",
       "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ${NO_SUCH_THING}\n"}};
  std::vector<RenderedState> states = RenderOperands(Parse(SeedPolicyObject()), kContext, files);
  bool seen = false;
  for (const RenderedState& state : states) {
    if (state.name != "state-vfio-manager") continue;
    seen = true;
    EXPECT_THAT(state.error.message(), HasSubstr("0100_sa.yaml"));
    EXPECT_THAT(state.error.message(), HasSubstr("${NO_SUCH_THING}"));
  }
  EXPECT_TRUE(seen);
}

TEST(RenderOperands, AValueCannotInjectStructure) {
  // A runtime class name like this is refused before rendering (ParseClusterPolicy); a node
  // selector's value is free text that reaches the config map's text and the RuntimeClass.
  json object = SeedPolicyObject();
  object["spec"]["ccManager"]["defaultMode"] = "on";
  const std::string evil = "x\nkind: ClusterRole\nmetadata: {name: evil}";
  object["spec"]["kataManager"]["config"]["runtimeClasses"][0]["nodeSelector"] = {{"a", evil}};
  const auto states = Render(object);
  const json* rc = Find(states, "RuntimeClass", "kata-qemu-nvidia-gpu");
  ASSERT_NE(rc, nullptr);
  EXPECT_EQ((*rc)["scheduling"]["nodeSelector"]["a"], evil);
  const json* config = Find(states, "ConfigMap", "nvidia-kata-manager-config");
  ASSERT_NE(config, nullptr);
  const json parsed = json::parse((*config)["data"]["config.yaml"].get<std::string>());
  EXPECT_EQ(parsed["runtimeClasses"][0]["nodeSelector"]["a"], evil);
  EXPECT_EQ(Find(states, "ClusterRole", "evil"), nullptr);
}

struct ImageCase {
  const char* repository;
  const char* image;
  const char* version;
  const char* want;  // Or the error's text.
  bool ok;
};

TEST(OperandImage, FollowsNvidiasRules) {
  const ImageCase cases[] = {
      {"nvcr.io/nvidia", "plugin", "v1.0", "nvcr.io/nvidia/plugin:v1.0", true},
      {"nvcr.io/nvidia", "plugin", "sha256:abc", "nvcr.io/nvidia/plugin@sha256:abc", true},
      {"", "registry/full/plugin@sha256:abc", "", "registry/full/plugin@sha256:abc", true},
      {"nvcr.io/nvidia", "plugin", "", "version not set", false},
      {"", "plugin", "v1", "repository not set", false},
      {"", "", "", "no image", false},
  };
  for (const ImageCase& c : cases) {
    api::OperandSpec spec{.repository = c.repository, .image = c.image, .version = c.version};
    absl::StatusOr<std::string> image = OperandImage(&spec, "devicePlugin");
    SCOPED_TRACE(c.want);
    ASSERT_EQ(image.ok(), c.ok) << image.status();
    if (c.ok) {
      EXPECT_EQ(*image, c.want);
    } else {
      EXPECT_THAT(image.status().message(), HasSubstr("spec.devicePlugin: "));
      EXPECT_THAT(image.status().message(), HasSubstr(c.want));
    }
  }
  EXPECT_FALSE(OperandImage(nullptr, "devicePlugin").ok());
}

TEST(PullPolicy, AnythingButTheThreeKnownValuesIsIfNotPresent) {
  EXPECT_EQ(PullPolicy("Always"), "Always");
  EXPECT_EQ(PullPolicy("Never"), "Never");
  EXPECT_EQ(PullPolicy("IfNotPresent"), "IfNotPresent");
  EXPECT_EQ(PullPolicy("always"), "IfNotPresent");
  EXPECT_EQ(PullPolicy(""), "IfNotPresent");
}

}  // namespace
}  // namespace gpuop::op
