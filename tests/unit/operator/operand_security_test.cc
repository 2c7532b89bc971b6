// The security settings of the rendered operand DaemonSets: the validator runs unprivileged,
// without capabilities, on a read-only image under the runtime's seccomp profile, whatever the
// policy's transforms do to it; and only the agents that need the host's devices or files run
// privileged, so that a new privileged operand has to be added to the list here on purpose.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "api/cluster_policy.h"
#include "operator/embedded_manifests.h"
#include "operator/operand_renderer.h"

namespace gpuop::op {
namespace {

using nlohmann::json;

// Kata mode with CC on (so the validator keeps its cc-manager-validation init container), the
// policy's common fields set on the validator, and NVIDIA's KubeVirt plugin's image for the
// kubevirt render.
json PolicyObject(const std::string& mode) {
  json object = json::parse(R"({
    "metadata": {"name": "cluster-policy", "uid": "uid"},
    "spec": {
      "sandboxWorkloads": {"enabled": true, "defaultWorkload": "vm-passthrough"},
      "validator": {"enabled": true, "resources": {"limits": {"memory": "80Mi"}},
                    "env": [{"name": "EXTRA", "value": "1"}]},
      "vfioManager": {"enabled": true},
      "nodeStatusExporter": {"enabled": true},
      "ccManager": {"enabled": true, "defaultMode": "on"},
      "kataSandboxDevicePlugin": {"enabled": true},
      "sandboxDevicePlugin": {"enabled": true, "repository": "nvcr.io/nvidia",
                              "image": "kubevirt-gpu-device-plugin", "version": "v1.6.0"},
      "kataManager": {"enabled": true, "config": {"runtimeClasses": [
        {"name": "kata-qemu-nvidia-gpu", "artifacts": {"url": "registry.local/kata:1"}}]}}}})");
  object["spec"]["sandboxWorkloads"]["mode"] = mode;
  return object;
}

// The rendered DaemonSets by name.
std::map<std::string, json> RenderedDaemonSets(const std::string& mode) {
  std::map<std::string, json> daemonsets;
  absl::StatusOr<api::ClusterPolicy> policy = api::ParseClusterPolicy(PolicyObject(mode));
  EXPECT_TRUE(policy.ok()) << policy.status();
  if (!policy.ok()) return daemonsets;
  const RenderContext context{.operator_namespace = "gpu-operator",
                              .gpuop_image = "registry.local/gpuop:test"};
  for (RenderedState& state : RenderOperands(*policy, context, EmbeddedManifests())) {
    EXPECT_TRUE(state.error.ok()) << state.name << ": " << state.error;
    for (json& object : state.objects) {
      if (object.value("kind", "") == "DaemonSet") {
        // Named first: json's assignment takes its argument by value, which would empty
        // `object` before the name is read from it.
        const std::string name = object["metadata"].value("name", "");
        daemonsets[name] = std::move(object);
      }
    }
  }
  return daemonsets;
}

// Every container of a pod spec, init containers first.
std::vector<const json*> Containers(const json& pod) {
  std::vector<const json*> containers;
  for (const char* list : {"initContainers", "containers"}) {
    if (!pod.contains(list)) continue;
    for (const json& container : pod[list]) containers.push_back(&container);
  }
  return containers;
}

// The value at `pointer` ("/securityContext/privileged"), null where there is none.
json At(const json& object, const char* pointer) {
  const json::json_pointer path(pointer);
  return object.contains(path) ? object.at(path) : json();
}

bool Privileged(const json& container) {
  return At(container, "/securityContext/privileged") == true;
}

// The pod of `daemonset` runs under seccomp RuntimeDefault, shares none of the host's
// namespaces, and each of its containers runs unprivileged, without capabilities or a way to
// gain them, on a read-only image. Returns the containers' names, init containers first.
std::vector<std::string> ExpectConfined(const json& daemonset) {
  const json pod = At(daemonset, "/spec/template/spec");
  EXPECT_EQ(At(pod, "/securityContext/seccompProfile"), (json{{"type", "RuntimeDefault"}}));
  EXPECT_FALSE(pod.contains("hostPID") || pod.contains("hostNetwork") || pod.contains("hostIPC"));
  std::vector<std::string> names;
  for (const json* container : Containers(pod)) {
    const std::string name = container->value("name", "");
    names.push_back(name);
    SCOPED_TRACE(name);
    const json context = At(*container, "/securityContext");
    EXPECT_EQ(At(context, "/allowPrivilegeEscalation"), false);
    EXPECT_EQ(At(context, "/readOnlyRootFilesystem"), true);
    EXPECT_EQ(At(context, "/capabilities/drop"), json::array({"ALL"}));
    EXPECT_EQ(At(context, "/capabilities/add"), json());
    EXPECT_FALSE(Privileged(*container));
  }
  return names;
}

TEST(OperandSecurity, TheValidatorRunsUnprivilegedWithoutCapabilitiesOnAReadOnlyImage) {
  const std::map<std::string, json> daemonsets = RenderedDaemonSets("kata");
  const auto validator = daemonsets.find("nvidia-sandbox-validator");
  ASSERT_NE(validator, daemonsets.end());
  // With CC on, the renderer keeps the cc-manager step: every step was checked.
  EXPECT_THAT(ExpectConfined(validator->second),
              ::testing::ElementsAre("cc-manager-validation", "vfio-pci-validation",
                                     "nvidia-sandbox-validator"));
  // The policy's fields reached the containers and left their securityContext as it was.
  const json pod = At(validator->second, "/spec/template/spec");
  for (const json* container : Containers(pod)) {
    EXPECT_EQ(At(*container, "/resources/limits/memory"), "80Mi");
  }
}

// gpuop's Kata device plugin only reads sysfs and /dev/vfio's listing and writes into root's own
// host folders: the kubelet and containerd hand the device nodes over, not the plugin.
TEST(OperandSecurity, TheKataDevicePluginRunsUnprivilegedWithoutCapabilities) {
  const std::map<std::string, json> daemonsets = RenderedDaemonSets("kata");
  const auto plugin = daemonsets.find("nvidia-kata-sandbox-device-plugin-daemonset");
  ASSERT_NE(plugin, daemonsets.end());
  EXPECT_THAT(ExpectConfined(plugin->second),
              ::testing::ElementsAre("vfio-pci-ready", "nvidia-kata-sandbox-device-plugin"));
}

TEST(OperandSecurity, OnlyTheAgentsThatNeedTheHostRunPrivileged) {
  // DaemonSet -> its privileged containers, each with the reason beside `privileged: true` in
  // its manifest. Adding one here is a decision, not a formality. The container path's are
  // NVIDIA's operands as NVIDIA's operator runs them (their images expect it), and gpuop's
  // driver step, which runs the host's nvidia-smi chrooted and links /dev/char.
  const std::map<std::string, std::set<std::string>> allowed = {
      {"nvidia-cc-manager", {"nvidia-cc-manager"}},
      {"nvidia-vfio-manager", {"nvidia-vfio-manager"}},
      {"nvidia-kata-manager", {"nvidia-kata-manager"}},
      {"nvidia-sandbox-device-plugin-daemonset", {"nvidia-sandbox-device-plugin-ctr"}},
      {"nvidia-driver-daemonset",
       {"k8s-driver-manager", "nvidia-driver-ctr", "nvidia-peermem-ctr", "nvidia-fs-ctr",
        "nvidia-gdrcopy-ctr"}},
      {"nvidia-container-toolkit-daemonset", {"driver-validation", "nvidia-container-toolkit-ctr"}},
      {"nvidia-operator-validator", {"driver-validation"}},
      {"nvidia-device-plugin-daemonset", {"nvidia-device-plugin"}},
      {"gpu-feature-discovery", {"gpu-feature-discovery"}},
      {"nvidia-dcgm", {"nvidia-dcgm-ctr"}},
      {"nvidia-dcgm-exporter", {"nvidia-dcgm-exporter"}},
      {"nvidia-mig-manager", {"nvidia-mig-manager"}},
      {"nvidia-device-plugin-mps-control-daemon",
       {"mps-control-daemon-mounts", "mps-control-daemon-ctr"}},
      {"nvidia-node-status-exporter", {"nvidia-node-status-exporter"}},
  };
  std::set<std::string> seen;
  for (const char* mode : {"kata", "kubevirt"}) {
    for (const auto& [name, daemonset] : RenderedDaemonSets(mode)) {
      seen.insert(name);
      const json pod = At(daemonset, "/spec/template/spec");
      for (const json* container : Containers(pod)) {
        if (!Privileged(*container)) continue;
        const std::string container_name = container->value("name", "");
        const auto entry = allowed.find(name);
        EXPECT_TRUE(entry != allowed.end() && entry->second.contains(container_name))
            << "DaemonSet " << name << " runs container " << container_name
            << " privileged; say why in its manifest and add it to `allowed`";
      }
    }
  }
  // Both renders together cover every DaemonSet gpuop ships.
  EXPECT_THAT(seen,
              ::testing::IsSupersetOf(
                  {"nvidia-sandbox-validator", "nvidia-cc-manager", "nvidia-vfio-manager",
                   "nvidia-kata-manager", "nvidia-kata-sandbox-device-plugin-daemonset",
                   "nvidia-sandbox-device-plugin-daemonset",
                   "nvidia-device-plugin-mps-control-daemon", "nvidia-node-status-exporter"}));
}

}  // namespace
}  // namespace gpuop::op
