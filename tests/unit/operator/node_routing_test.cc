// RouteNode as a table: every workload, sandbox on and off, both sandbox modes, paused deploy
// labels, the operands opt-out, invalid workload labels, GPU presence with and without NFD.

#include "operator/node_routing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"

#include "api/labels.h"

namespace gpuop::op {
namespace {

using Labels = std::map<std::string, std::string>;
using api::SandboxMode;
using api::Workload;

constexpr char kNfdGpu[] = "feature.node.kubernetes.io/pci-10de.present";
constexpr char kNfdKernel[] = "feature.node.kubernetes.io/kernel-version.major";

kube::LabelSet ToLabelSet(const Labels& labels) {
  std::vector<std::pair<std::string_view, std::string_view>> pairs(labels.begin(), labels.end());
  return kube::LabelSet::FromPairs(std::move(pairs));
}

// The node's gpu.present and deploy labels after the route's changes are applied.
Labels After(const Labels& before, const NodeRoute& route) {
  Labels labels = before;
  for (const auto& [key, value] : route.changes) {
    if (value) {
      labels[key] = *value;
    } else {
      labels.erase(key);
    }
  }
  Labels ours;
  for (const auto& [key, value] : labels) {
    if (absl::StartsWith(key, "nvidia.com/gpu.deploy.") || key == "nvidia.com/gpu.present") {
      ours[key] = value;
    }
  }
  return ours;
}

Labels Deploy(std::initializer_list<std::pair<const char*, const char*>> operands,
              const char* present = "true") {
  Labels labels;
  if (present != nullptr) labels["nvidia.com/gpu.present"] = present;
  for (const auto& [name, value] : operands) {
    labels[std::string("nvidia.com/gpu.deploy.") + name] = value;
  }
  return labels;
}

const Labels kContainerSet = Deploy({{"driver", "true"},
                                     {"gpu-feature-discovery", "true"},
                                     {"container-toolkit", "true"},
                                     {"device-plugin", "true"},
                                     {"dcgm", "true"},
                                     {"dcgm-exporter", "true"},
                                     {"node-status-exporter", "true"},
                                     {"operator-validator", "true"},
                                     {"client", "true"}});
const Labels kPassthroughKata = Deploy({{"kata-sandbox-device-plugin", "true"},
                                        {"sandbox-validator", "true"},
                                        {"vfio-manager", "true"},
                                        {"kata-manager", "true"},
                                        {"cc-manager", "true"},
                                        {"client", "true"}});
const Labels kPassthroughKubevirt = Deploy({{"sandbox-device-plugin", "true"},
                                            {"sandbox-validator", "true"},
                                            {"vfio-manager", "true"},
                                            {"kata-manager", "true"},
                                            {"cc-manager", "true"},
                                            {"client", "true"}});
const Labels kVgpuKubevirt = Deploy({{"sandbox-device-plugin", "true"},
                                     {"vgpu-manager", "true"},
                                     {"vgpu-device-manager", "true"},
                                     {"sandbox-validator", "true"},
                                     {"cc-manager", "true"},
                                     {"client", "true"}});
const Labels kVgpuKata = Deploy({{"vgpu-manager", "true"},
                                 {"vgpu-device-manager", "true"},
                                 {"sandbox-validator", "true"},
                                 {"cc-manager", "true"},
                                 {"client", "true"}});

Labels With(Labels labels, const Labels& more) {
  for (const auto& [key, value] : more) labels[key] = value;
  return labels;
}

struct Row {
  const char* name;
  Labels node;
  RoutingPolicy policy;
  Labels expected;  // gpu.present and deploy labels afterwards.
  std::optional<Workload> workload;
  std::string invalid = "";
};

// gtest prints a failing row by its name, not as bytes.
void PrintTo(const Row& row, std::ostream* out) { *out << row.name; }

const RoutingPolicy kSandboxKata{true, Workload::kContainer, SandboxMode::kKata};
const RoutingPolicy kSandboxKubevirt{true, Workload::kContainer, SandboxMode::kKubevirt};
const RoutingPolicy kSandboxDefaultPassthrough{true, Workload::kVmPassthrough, SandboxMode::kKata};
const RoutingPolicy kNoSandbox{false, Workload::kVmPassthrough, SandboxMode::kKata};

std::vector<Row> Rows() {
  const Labels gpu = {{kNfdGpu, "true"}};
  return {
      {"ContainerByDefault", gpu, kSandboxKata, kContainerSet, Workload::kContainer},
      {"PassthroughKata", With(gpu, {{"nvidia.com/gpu.workload.config", "vm-passthrough"}}),
       kSandboxKata, kPassthroughKata, Workload::kVmPassthrough},
      {"PassthroughKubevirt", With(gpu, {{"nvidia.com/gpu.workload.config", "vm-passthrough"}}),
       kSandboxKubevirt, kPassthroughKubevirt, Workload::kVmPassthrough},
      {"VgpuKubevirt", With(gpu, {{"nvidia.com/gpu.workload.config", "vm-vgpu"}}), kSandboxKubevirt,
       kVgpuKubevirt, Workload::kVmVgpu},
      {"VgpuKataHasNoKubevirtPlugin", With(gpu, {{"nvidia.com/gpu.workload.config", "vm-vgpu"}}),
       kSandboxKata, kVgpuKata, Workload::kVmVgpu},
      {"ClusterDefaultPassthrough", gpu, kSandboxDefaultPassthrough, kPassthroughKata,
       Workload::kVmPassthrough},
      {"SandboxOffIgnoresTheWorkloadLabel",
       With(gpu, {{"nvidia.com/gpu.workload.config", "vm-passthrough"}}), kNoSandbox, kContainerSet,
       Workload::kContainer},
      {"SandboxOffIgnoresAnInvalidLabelToo",
       With(gpu, {{"nvidia.com/gpu.workload.config", "kata"}}), kNoSandbox, kContainerSet,
       Workload::kContainer},
      {"InvalidLabelGetsNoOperands",
       With(With(gpu, kPassthroughKata), {{"nvidia.com/gpu.workload.config", "vm-pass"}}),
       kSandboxKata, Deploy({}), std::nullopt, "vm-pass"},
      {"EmptyLabelIsInvalid", With(gpu, {{"nvidia.com/gpu.workload.config", ""}}), kSandboxKata,
       Deploy({}), std::nullopt, ""},
      {"SwitchingWorkloadMovesOperands",
       With(With(gpu, kContainerSet), {{"nvidia.com/gpu.workload.config", "vm-passthrough"}}),
       kSandboxKata, kPassthroughKata, Workload::kVmPassthrough},
      {"PausedValuesAreLeftAlone",
       With(With(gpu, {{"nvidia.com/gpu.workload.config", "vm-passthrough"}}),
            Deploy({{"vfio-manager", "paused-for-cc-mode-change"},
                    {"kata-sandbox-device-plugin", "false"},
                    {"sandbox-validator", ""}})),
       kSandboxKata,
       With(kPassthroughKata, Deploy({{"vfio-manager", "paused-for-cc-mode-change"},
                                      {"kata-sandbox-device-plugin", "false"}})),
       Workload::kVmPassthrough},
      {"APausedOperandOfAnotherWorkloadIsRemoved",
       With(gpu, Deploy({{"vfio-manager", "paused-for-cc-mode-change"}})), kSandboxKata,
       kContainerSet, Workload::kContainer},
      {"UnknownDeployKeysStay", With(gpu, {{"nvidia.com/gpu.deploy.something-else", "true"}}),
       kSandboxKata, With(kContainerSet, {{"nvidia.com/gpu.deploy.something-else", "true"}}),
       Workload::kContainer},
      {"OperandsFalseRemovesEverything",
       With(With(gpu, kPassthroughKata), {{"nvidia.com/gpu.deploy.operands", "false"},
                                          {"nvidia.com/gpu.workload.config", "vm-passthrough"}}),
       kSandboxKata, With(Deploy({}), {{"nvidia.com/gpu.deploy.operands", "false"}}), std::nullopt},
      {"MigCapableContainerNodeGetsMigManager", With(gpu, {{"nvidia.com/mig.capable", "true"}}),
       kSandboxKata, With(kContainerSet, Deploy({{"mig-manager", "true"}})), Workload::kContainer},
      {"MigFromTheProductName", With(gpu, {{"nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB"}}),
       kSandboxKata, With(kContainerSet, Deploy({{"mig-manager", "true"}})), Workload::kContainer},
      {"NoMigWithAVgpuHostDriver",
       With(gpu, {{"nvidia.com/mig.capable", "true"},
                  {"nvidia.com/vgpu.host-driver-version", "550.54"}}),
       kSandboxKata, kContainerSet, Workload::kContainer},
      {"NfdWithoutGpuTurnsPresentFalseAndRemovesOperands",
       With({{kNfdKernel, "6"}}, kPassthroughKata), kSandboxKata, Deploy({}, "false"),
       std::nullopt},
      {"WithoutNfdAnAdminsGpuPresentIsBelieved",
       {{"nvidia.com/gpu.present", "true"}, {"nvidia.com/gpu.workload.config", "vm-passthrough"}},
       kSandboxKata,
       kPassthroughKata,
       Workload::kVmPassthrough},
      {"WithoutNfdOrGpuPresentNothingIsAdded",
       {{"kubernetes.io/os", "linux"}},
       kSandboxKata,
       Labels{},
       std::nullopt},
      {"DisplayClassNfdLabelCounts",
       {{"feature.node.kubernetes.io/pci-0300_10de.present", "true"}},
       kSandboxKata,
       kContainerSet,
       Workload::kContainer},
  };
}

class RouteNodeTable : public ::testing::TestWithParam<Row> {};

TEST_P(RouteNodeTable, GivesTheDeployLabelsOfItsWorkload) {
  const Row& row = GetParam();
  const NodeRoute route = RouteNode(ToLabelSet(row.node), row.policy);
  EXPECT_EQ(After(row.node, route), row.expected);
  EXPECT_EQ(route.workload, row.workload);
  EXPECT_EQ(route.invalid_workload, row.invalid);
  // Routing again after the patch changes nothing: the reconciler converges in one write.
  Labels patched = row.node;
  for (const auto& [key, value] : route.changes) {
    if (value) {
      patched[key] = *value;
    } else {
      patched.erase(key);
    }
  }
  EXPECT_TRUE(RouteNode(ToLabelSet(patched), row.policy).changes.empty());

  // The node cache keeps only RoutingLabels of a node's labels: they route the same.
  const Labels noisy = With(
      row.node, {{"kubernetes.io/hostname", "gpu-node-7"}, {"topology.kubernetes.io/zone", "a"}});
  const NodeRoute cached =
      RouteNode(RoutingLabels(std::vector<std::pair<std::string_view, std::string_view>>(
                    noisy.begin(), noisy.end())),
                row.policy);
  EXPECT_EQ(cached.changes, route.changes);
  EXPECT_EQ(cached.workload, route.workload);
  EXPECT_EQ(cached.has_gpu, route.has_gpu);
  EXPECT_EQ(cached.invalid_workload, route.invalid_workload);
}

INSTANTIATE_TEST_SUITE_P(NodeRouter, RouteNodeTable, ::testing::ValuesIn(Rows()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(NodeRouter, AMigCapableContainerNodeStartsWithMigOffUntilTheAdminPicksALayout) {
  const Labels node = {{kNfdGpu, "true"}, {"nvidia.com/mig.capable", "true"}};
  NodeRoute route = RouteNode(ToLabelSet(node), kSandboxKata);
  ASSERT_TRUE(route.changes.contains("nvidia.com/mig.config"));
  EXPECT_EQ(route.changes.at("nvidia.com/mig.config"), "all-disabled");

  // The admin's layout is theirs: never replaced, and kept when the node leaves the container
  // path (the MIG manager has gone with it).
  route =
      RouteNode(ToLabelSet(With(node, {{"nvidia.com/mig.config", "all-1g.10gb"}})), kSandboxKata);
  EXPECT_FALSE(route.changes.contains("nvidia.com/mig.config"));
  route = RouteNode(ToLabelSet(With(node, {{"nvidia.com/mig.config", "all-1g.10gb"},
                                           {"nvidia.com/gpu.workload.config", "vm-passthrough"}})),
                    kSandboxKata);
  EXPECT_FALSE(route.changes.contains("nvidia.com/mig.config"));

  // Not without MIG, nor with the MIG manager off or no default layout.
  EXPECT_FALSE(RouteNode(ToLabelSet({{kNfdGpu, "true"}}), kSandboxKata)
                   .changes.contains("nvidia.com/mig.config"));
  RoutingPolicy off = kSandboxKata;
  off.mig_manager_enabled = false;
  EXPECT_FALSE(RouteNode(ToLabelSet(node), off).changes.contains("nvidia.com/mig.config"));
  RoutingPolicy no_default = kSandboxKata;
  no_default.mig_config_default = "";
  EXPECT_FALSE(RouteNode(ToLabelSet(node), no_default).changes.contains("nvidia.com/mig.config"));
}

TEST(NodeRouter, TheMigManagersPausesAreLeftForItToSetBack) {
  // As NVIDIA's MIG manager leaves a node mid-repartition.
  const Labels node = With(With({{kNfdGpu, "true"},
                                 {"nvidia.com/mig.capable", "true"},
                                 {"nvidia.com/mig.config", "all-1g.10gb"},
                                 {"nvidia.com/mig.config.state", "pending"}},
                                kContainerSet),
                           Deploy({{"mig-manager", "true"},
                                   {"device-plugin", "paused-for-mig-change"},
                                   {"gpu-feature-discovery", "paused-for-mig-change"},
                                   {"dcgm-exporter", "paused-for-mig-change"},
                                   {"dcgm", "paused-for-mig-change"}}));
  EXPECT_TRUE(RouteNode(ToLabelSet(node), kSandboxKata).changes.empty());
}

TEST(NodeRouter, ANodeAlreadyRightNeedsNoChanges) {
  const Labels node = With({{kNfdGpu, "true"}}, kPassthroughKata);
  const NodeRoute route = RouteNode(
      ToLabelSet(With(node, {{"nvidia.com/gpu.workload.config", "vm-passthrough"}})), kSandboxKata);
  EXPECT_TRUE(route.changes.empty());
  EXPECT_TRUE(route.has_gpu);
}

// The GPU hand-over at a flip: the next driver's label waits while the last driver's pod runs.
constexpr char kDriverLabel[] = "nvidia.com/gpu.deploy.driver";
constexpr char kVfioLabel[] = "nvidia.com/gpu.deploy.vfio-manager";

TEST(GpuHandOver, TheDriverWaitsWhileTheVfioManagerRunsThenGetsTrue) {
  const Labels container_node = {{kNfdGpu, "true"},
                                 {"nvidia.com/gpu.workload.config", "container"}};
  NodeRoute route = RouteNode(ToLabelSet(container_node), kSandboxKata, {.vfio_manager = true});
  EXPECT_EQ(route.changes.at(kDriverLabel), api::kWaitingForGpuHandOver);
  EXPECT_EQ(route.held.at(kDriverLabel), "nvidia-vfio-manager");
  // The rest of the container path is labelled at once: it waits on driver-ready anyway.
  EXPECT_EQ(route.changes.at("nvidia.com/gpu.deploy.container-toolkit"), "true");

  Labels held = container_node;
  held[kDriverLabel] = api::kWaitingForGpuHandOver;
  route = RouteNode(ToLabelSet(held), kSandboxKata, {.vfio_manager = true});
  EXPECT_FALSE(route.changes.contains(kDriverLabel));  // Still waiting: nothing to write.
  EXPECT_TRUE(route.held.contains(kDriverLabel));

  route = RouteNode(ToLabelSet(held), kSandboxKata, {});  // The VFIO manager's pod is gone.
  EXPECT_EQ(route.changes.at(kDriverLabel), "true");
  EXPECT_TRUE(route.held.empty());
}

TEST(GpuHandOver, TheVfioManagerWaitsWhileTheDriverRunsThenGetsTrue) {
  const Labels vm_node = {{kNfdGpu, "true"}, {"nvidia.com/gpu.workload.config", "vm-passthrough"}};
  NodeRoute route = RouteNode(ToLabelSet(vm_node), kSandboxKata, {.driver = true});
  EXPECT_EQ(route.changes.at(kVfioLabel), api::kWaitingForGpuHandOver);
  EXPECT_EQ(route.held.at(kVfioLabel), "nvidia-driver-daemonset");
  EXPECT_EQ(route.changes.at("nvidia.com/gpu.deploy.kata-manager"), "true");

  Labels held = vm_node;
  held[kVfioLabel] = api::kWaitingForGpuHandOver;
  route = RouteNode(ToLabelSet(held), kSandboxKata, {});
  EXPECT_EQ(route.changes.at(kVfioLabel), "true");
}

TEST(GpuHandOver, ARunningDriverIsNotTakenOffNorAPauseChanged) {
  // Both pods on one node (an admin's labels, an older operator): a "true" stays, as does a
  // pause another agent wrote over the hold.
  Labels node = {
      {kNfdGpu, "true"}, {"nvidia.com/gpu.workload.config", "container"}, {kDriverLabel, "true"}};
  EXPECT_FALSE(RouteNode(ToLabelSet(node), kSandboxKata, {.vfio_manager = true})
                   .changes.contains(kDriverLabel));
  node[kDriverLabel] = std::string(api::kWaitingForGpuHandOver) + "_paused-for-cc-mode-change";
  EXPECT_FALSE(RouteNode(ToLabelSet(node), kSandboxKata, {}).changes.contains(kDriverLabel));
}

TEST(GpuHandOver, AHoldOnALabelNoLongerWantedIsTakenOffLikeAnyOther) {
  const Labels node = {{kNfdGpu, "true"},
                       {"nvidia.com/gpu.workload.config", "vm-passthrough"},
                       {kDriverLabel, api::kWaitingForGpuHandOver}};
  const NodeRoute route = RouteNode(ToLabelSet(node), kSandboxKata, {.vfio_manager = true});
  EXPECT_EQ(route.changes.at(kDriverLabel), std::nullopt);
}

TEST(RoutingLabels, KeepsNvidiaLabelsNfdsGpuLabelsAndOneOtherNfdLabel) {
  const kube::LabelSet kept = RoutingLabels({
      {"kubernetes.io/hostname", "gpu-node-7"},
      {"feature.node.kubernetes.io/kernel-version.full", "6.1.0-27-amd64"},
      {"feature.node.kubernetes.io/cpu-cpuid.AVX512F", "true"},
      {"feature.node.kubernetes.io/pci-10de.present", "true"},
      {"nvidia.com/gpu.workload.config", "vm-passthrough"},
      {"nvidia.com/gpu.deploy.vfio-manager", "paused-for-cc-mode-change"},
      {"node-role.kubernetes.io/worker", ""},
  });
  std::string listed;
  kept.ForEach([&](std::string_view key, std::string_view value) {
    listed += std::string(key) + "=" + std::string(value) + "\n";
  });
  EXPECT_EQ(listed,
            "feature.node.kubernetes.io/cpu-cpuid.AVX512F=true\n"
            "feature.node.kubernetes.io/pci-10de.present=true\n"
            "nvidia.com/gpu.deploy.vfio-manager=paused-for-cc-mode-change\n"
            "nvidia.com/gpu.workload.config=vm-passthrough\n");
}

TEST(LabelPatch, SetsAndRemovesWithNull) {
  const nlohmann::json patch = LabelPatch({{"nvidia.com/gpu.deploy.vfio-manager", "true"},
                                           {"nvidia.com/gpu.deploy.driver", std::nullopt}});
  EXPECT_EQ(patch.dump(), R"({"metadata":{"labels":{"nvidia.com/gpu.deploy.driver":null,)"
                          R"("nvidia.com/gpu.deploy.vfio-manager":"true"}}})");
}

}  // namespace
}  // namespace gpuop::op
