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
