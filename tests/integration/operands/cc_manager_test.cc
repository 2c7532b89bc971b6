// The CC manager on the real kube-apiserver, over simulated GPUs switched by the
// gpu-admin-tools double: label flips (the last one wins), the pause protocol with operand pods
// on the node that the test deletes, an agent killed mid-switch and restarted, and the inputs
// that must fail without touching a GPU (an invalid label, a GPU without CC, a host without a
// TEE).

#include "operands/cc_manager/cc_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "api/labels.h"
#include "host/gpu_cc_mode.h"
#include "host/pci_device.h"
#include "operands/cc_manager/cc_mode_switcher.h"
#include "operands/cc_manager/operand_pause.h"
#include "tests/fixtures/boot_for_test.h"
#include "tests/fixtures/node_files.h"
#include "tests/fixtures/sim_bar0.h"
#include "tests/fixtures/topologies.h"
#include "tests/integration/background_process.h"
#include "tests/integration/kube/informer_testing.h"

namespace gpuop::operands {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

const std::map<std::string, std::string> kDeployLabels = {
    {"nvidia.com/gpu.deploy.vfio-manager", "true"},
    {"nvidia.com/gpu.deploy.sandbox-validator", "true"},
    {"nvidia.com/gpu.deploy.kata-sandbox-device-plugin", "true"},
    {"nvidia.com/gpu.deploy.vgpu-manager", "false"},
    {"nvidia.com/gpu.deploy.sandbox-device-plugin", "custom"},
};

testing::SimHost WithTee(testing::SimHost host) {
  host.cpu_vendor = "AuthenticAMD";
  host.sev_snp = true;
  return host;
}

class CcManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = kube::AdminClient();
    node_ = gpuop::testing::UniqueName("cc-node");
    ns_ = gpuop::testing::UniqueName("cc-ns");
    json node = kube::LabelledNode(node_, "cc");
    for (const auto& [key, value] : kDeployLabels) node["metadata"]["labels"][key] = value;
    ASSERT_TRUE(client_->Create(kube::resources::kNodes, "", node).ok());
    ASSERT_TRUE(kube::CreateTestNamespace(*client_, ns_));
  }
  void TearDown() override {
    (void)client_->Delete(kube::resources::kNodes, "", node_);
    (void)client_->Delete(kube::resources::kNamespaces, "", ns_);
  }

  void Boot(testing::SimHost host) {
    kernel_ = testing::BootOrThrow(std::move(host));
    ::setenv("GPU_ADMIN_TOOLS_DOUBLE_ROOT", kernel_->Root().c_str(), 1);
    ::setenv("GPU_ADMIN_TOOLS_DOUBLE_RESET_MS", "200", 1);
  }

  std::map<std::string, std::string> Labels() {
    absl::StatusOr<json> node = client_->Get(kube::resources::kNodes, "", node_);
    std::map<std::string, std::string> labels;
    if (!node.ok()) return labels;
    const json& metadata = (*node)["metadata"];
    if (!metadata.contains("labels")) return labels;
    for (auto it = metadata["labels"].begin(); it != metadata["labels"].end(); ++it) {
      labels[it.key()] = it.value().get<std::string>();
    }
    return labels;
  }
  std::string Label(const std::string& key) {
    const std::map<std::string, std::string> labels = Labels();
    const auto it = labels.find(key);
    return it == labels.end() ? "<absent>" : it->second;
  }
  // Once the Node's `key` reads `value`, within `seconds`; else what it reads and the agent's log.
  ::testing::AssertionResult LabelBecomes(const std::string& key, const std::string& value,
                                          int seconds) {
    if (kube::WaitFor([&] { return Label(key) == value; }, std::chrono::seconds(seconds))) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << key << " is " << Label(key) << ", not " << value << "\n"
                                         << gpuop::testing::ReadWhole(log_);
  }
  bool HasPauseRecord() {
    absl::StatusOr<json> node = client_->Get(kube::resources::kNodes, "", node_);
    return node.ok() && (*node)["metadata"]
                            .value("annotations", json::object())
                            .contains(api::kPausedLabelsAnnotation);
  }
  void SetCcLabel(const std::string& value) {
    ASSERT_TRUE(client_
                    ->MergePatch(kube::resources::kNodes, "", node_,
                                 {{"metadata", {{"labels", {{api::kCcModeLabel, value}}}}}})
                    .ok());
  }
  void AddOperandPod(const std::string& name, const std::string& app) {
    ASSERT_TRUE(client_
                    ->Create(kube::resources::kPods, ns_,
                             {{"apiVersion", "v1"},
                              {"kind", "Pod"},
                              {"metadata", {{"name", name}, {"labels", {{"app", app}}}}},
                              {"spec",
                               {{"nodeName", node_},
                                {"automountServiceAccountToken", false},
                                {"containers", {{{"name", "c"}, {"image", "operand"}}}}}}})
                    .ok());
  }
  // No kubelet runs the node: the pod goes at once only when forced.
  void DeletePod(const std::string& name) {
    EXPECT_EQ(
        gpuop::testing::Kubectl({"delete", "pod", "-n", ns_, name, "--grace-period=0", "--force"})
            .exit_code,
        0);
  }
  std::string GpuMode(const std::string& bdf) {
    const host::HostRoot root(kernel_->Root());
    absl::StatusOr<host::PciDevice> device = host::ReadPciDevice(root, bdf);
    absl::StatusOr<std::string> mode = ReadModeWord(root, *device, std::chrono::seconds(2));
    return mode.ok() ? *mode : std::string(mode.status().message());
  }
  std::vector<json> Events(const std::string& reason) {
    std::vector<json> found;
    absl::StatusOr<kube::ListPage> list = client_->ListAll(kube::resources::kEvents, "default");
    if (!list.ok()) return found;
    for (const json& event : list->items) {
      if (event["regarding"].value("name", "") == node_ && event.value("reason", "") == reason) {
        found.push_back(event);
      }
    }
    return found;
  }

  // The agent as a process, its log in log_.
  std::unique_ptr<testing::BackgroundProcess> StartAgent(const std::string& log) {
    log_ = log;
    return std::make_unique<testing::BackgroundProcess>(
        std::vector<std::string>{"/usr/bin/env", "KUBECONFIG=" + gpuop::testing::AdminKubeconfig(),
                                 GPUOP_BINARY, "cc-manager", "--node-name=" + node_,
                                 "--namespace=" + ns_, "--host-root=" + kernel_->Root(),
                                 "--default-cc-mode=off",
                                 std::string("--gpu-admin-tools=") + GPU_ADMIN_TOOLS_DOUBLE,
                                 "--ready-file=" + kernel_->Root() + "/ready/.cc-manager-ctr-ready",
                                 "--eviction-timeout=60", "--metrics-address="},
        log);
  }

  std::unique_ptr<kube::RestClient> client_;
  std::string node_, ns_, log_;
  std::unique_ptr<testing::SimulatedKernel> kernel_;
};

TEST_F(CcManagerTest, LabelFlipsSwitchTheGpusPausingTheOperandsUntilTheirPodsAreGone) {
  Boot(WithTee(testing::HgxH100x8()));
  const std::string log = kernel_->Root() + "/cc-manager.log";
  std::unique_ptr<testing::BackgroundProcess> agent = StartAgent(log);
  EXPECT_TRUE(LabelBecomes(api::kCcModeStateLabel, "off", 30));
  EXPECT_EQ(Label(api::kCcReadyStateLabel), "false");
  EXPECT_EQ(Label(api::kCcCapableLabel), "true");
  // Written once the first apply has returned, a moment after its labels.
  EXPECT_TRUE(kube::WaitFor(
      [&] { return std::filesystem::exists(kernel_->Root() + "/ready/.cc-manager-ctr-ready"); },
      std::chrono::seconds(10)));
  const std::map<std::string, std::string> before = Labels();

  // Operand pods on the node: the switch must wait for them.
  ASSERT_NO_FATAL_FAILURE(AddOperandPod("vfio-manager-x", "nvidia-vfio-manager"));
  ASSERT_NO_FATAL_FAILURE(
      AddOperandPod("kata-dp-x", "nvidia-kata-sandbox-device-plugin-daemonset"));
  SetCcLabel("on");
  EXPECT_TRUE(LabelBecomes("nvidia.com/gpu.deploy.vfio-manager", "paused-for-cc-mode-change", 30));
  std::map<std::string, std::string> during = Labels();
  EXPECT_EQ(during["nvidia.com/gpu.deploy.kata-sandbox-device-plugin"],
            "paused-for-cc-mode-change");
  EXPECT_EQ(during["nvidia.com/gpu.deploy.sandbox-device-plugin"],
            "custom_paused-for-cc-mode-change");
  EXPECT_EQ(during["nvidia.com/gpu.deploy.vgpu-manager"], "false");
  EXPECT_FALSE(during.contains("nvidia.com/gpu.deploy.vgpu-device-manager"))
      << "an absent label stays absent";
  EXPECT_TRUE(HasPauseRecord());
  // No reset while operand pods remain: half a second, unless the GPU leaves off before.
  EXPECT_FALSE(kube::WaitFor([&] { return GpuMode(testing::HgxGpuBdfs()[0]) != "off"; },
                             std::chrono::milliseconds(500)))
      << "a reset while operand pods remain";
  DeletePod("vfio-manager-x");
  DeletePod("kata-dp-x");
  EXPECT_TRUE(LabelBecomes(api::kCcModeStateLabel, "on", 60));
  std::map<std::string, std::string> after = Labels();
  EXPECT_EQ(after[api::kCcReadyStateLabel], "true");
  for (const auto& [key, value] : kDeployLabels) EXPECT_EQ(after[key], value) << key;
  EXPECT_FALSE(HasPauseRecord());
  for (const std::string& bdf : testing::HgxGpuBdfs()) EXPECT_EQ(GpuMode(bdf), "on") << bdf;
  EXPECT_EQ(Events("CcModeSwitched").size(), 1u);
  std::cout << "labels before, during and after the switch to on:\n";
  for (const auto& [key, value] : during) {
    if (!key.starts_with("nvidia.com/")) continue;
    std::cout << "  " << key << ": " << (before.contains(key) ? before.at(key) : "<absent>")
              << " | " << value << " | " << (after.contains(key) ? after.at(key) : "<absent>")
              << "\n";
  }

  // Rapid flips: the last one wins.
  SetCcLabel("devtools");
  SetCcLabel("off");
  SetCcLabel("devtools");
  EXPECT_TRUE(LabelBecomes(api::kCcModeStateLabel, "devtools", 60));
  EXPECT_TRUE(kube::WaitFor([&] { return GpuMode(testing::HgxGpuBdfs()[7]) == "devtools"; },
                            std::chrono::seconds(10)));
  EXPECT_EQ(Label(api::kCcReadyStateLabel), "");
  // It stays there: a second, unless the state moves before.
  EXPECT_FALSE(kube::WaitFor([&] { return Label(api::kCcModeStateLabel) != "devtools"; },
                             std::chrono::seconds(1)))
      << gpuop::testing::ReadWhole(log_);
  agent->Signal(SIGTERM);
  EXPECT_EQ(agent->Wait(), 0) << gpuop::testing::ReadWhole(log_);
}

TEST_F(CcManagerTest, AnAgentKilledMidSwitchRestoresTheLabelsWhenItStartsAgain) {
  Boot(WithTee(testing::SingleH100Pcie()));
  const std::string log = kernel_->Root() + "/cc-manager.log";
  std::unique_ptr<testing::BackgroundProcess> agent = StartAgent(log);
  EXPECT_TRUE(LabelBecomes(api::kCcModeStateLabel, "off", 30));
  ASSERT_NO_FATAL_FAILURE(AddOperandPod("vfio-manager-y", "nvidia-vfio-manager"));
  SetCcLabel("on");
  EXPECT_TRUE(LabelBecomes("nvidia.com/gpu.deploy.vfio-manager", "paused-for-cc-mode-change", 30));
  agent->Signal(SIGKILL);
  agent->Wait();
  EXPECT_TRUE(HasPauseRecord()) << "the record outlives the agent";
  EXPECT_EQ(Label("nvidia.com/gpu.deploy.vfio-manager"), "paused-for-cc-mode-change");

  // Back to the mode the GPU is in, so the restarted agent has nothing to switch.
  SetCcLabel("off");
  agent = StartAgent(log + ".2");
  EXPECT_TRUE(LabelBecomes("nvidia.com/gpu.deploy.vfio-manager", "true", 30));
  EXPECT_TRUE(kube::WaitFor([&] { return !HasPauseRecord(); }, std::chrono::seconds(10)));
  std::map<std::string, std::string> labels = Labels();
  for (const auto& [key, value] : kDeployLabels) EXPECT_EQ(labels[key], value) << key;
  EXPECT_EQ(GpuMode(testing::kH100PcieBdf), "off");
  DeletePod("vfio-manager-y");
}

TEST_F(CcManagerTest, APauseRecordNamingOtherLabelsRestoresOnlyTheDeployLabels) {
  Boot(WithTee(testing::SingleH100Pcie()));
  // A record planted in the Node's annotations, as whoever may annotate the Node could.
  const json record = {{"nvidia.com/gpu.deploy.vfio-manager", "paused-for-cc-mode-change"},
                       {"node-role.kubernetes.io/control-plane", ""},
                       {"gpuop.test/planted", "yes"}};
  ASSERT_TRUE(
      client_
          ->MergePatch(
              kube::resources::kNodes, "", node_,
              {{"metadata",
                {{"labels", {{"nvidia.com/gpu.deploy.vfio-manager", "paused-for-cc-mode-change"}}},
                 {"annotations", {{api::kPausedLabelsAnnotation, record.dump()}}}}}})
          .ok());
  std::unique_ptr<testing::BackgroundProcess> agent =
      StartAgent(kernel_->Root() + "/cc-manager.log");
  EXPECT_TRUE(LabelBecomes("nvidia.com/gpu.deploy.vfio-manager", "true", 30));
  EXPECT_TRUE(kube::WaitFor([&] { return !HasPauseRecord(); }, std::chrono::seconds(10)));
  EXPECT_EQ(Label("gpuop.test/planted"), "<absent>");
  EXPECT_EQ(Label("node-role.kubernetes.io/control-plane"), "<absent>");
}

TEST_F(CcManagerTest, AnAgentKilledDuringAResetLeavesNoLabelPausedOnceItIsBack) {
  Boot(WithTee(testing::SingleH100Pcie()));
  ::setenv("GPU_ADMIN_TOOLS_DOUBLE_RESET_MS", "3000", 1);  // Time to kill it mid-reset.
  const std::string log = kernel_->Root() + "/cc-manager.log";
  std::unique_ptr<testing::BackgroundProcess> agent = StartAgent(log);
  EXPECT_TRUE(LabelBecomes(api::kCcModeStateLabel, "off", 30));
  SetCcLabel("on");
  const std::string bar0 =
      kernel_->Root() + "/sys/bus/pci/devices/" + testing::kH100PcieBdf + "/resource0";
  // The GPU is in reset once its boot-complete register (where the tool has it) drops.
  testing::SimHost sim = testing::SingleH100Pcie();
  const uint32_t boot_complete =
      testing::BootCompleteRegisterOf(testing::DeviceAt(sim, testing::kH100PcieBdf));
  ASSERT_TRUE(kube::WaitFor(
      [&] {
        absl::StatusOr<uint32_t> booted = testing::ReadBar0Register(bar0, boot_complete);
        return booted.ok() && *booted == 0;
      },
      std::chrono::seconds(30)))
      << gpuop::testing::ReadWhole(log_);
  agent->Signal(SIGKILL);
  agent->Wait();
  EXPECT_EQ(Label("nvidia.com/gpu.deploy.vfio-manager"), "paused-for-cc-mode-change");
  EXPECT_TRUE(HasPauseRecord());

  // The tool it started finishes the reset on its own; the agent that comes back first puts
  // the labels back, then finds the GPU in the mode asked for (or finishes the switch).
  ::setenv("GPU_ADMIN_TOOLS_DOUBLE_RESET_MS", "200", 1);
  agent = StartAgent(log + ".2");
  EXPECT_TRUE(LabelBecomes("nvidia.com/gpu.deploy.vfio-manager", "true", 30));
  EXPECT_TRUE(LabelBecomes(api::kCcModeStateLabel, "on", 30));
  EXPECT_FALSE(HasPauseRecord());
  std::map<std::string, std::string> labels = Labels();
  for (const auto& [key, value] : kDeployLabels) EXPECT_EQ(labels[key], value) << key;
  EXPECT_EQ(GpuMode(testing::kH100PcieBdf), "on");
  agent->Signal(SIGTERM);
  EXPECT_EQ(agent->Wait(), 0) << gpuop::testing::ReadWhole(log_);
}

struct InProcess {
  InProcess(kube::RestClient& client, const std::string& node, const std::string& ns,
            const std::string& root)
      : log(text, common::LogFormat::kText),
        recorder(client, "gpuop.io/cc-manager", "cc-manager-test"),
        manager(client, recorder,
                {.root = host::HostRoot(root),
                 .node_name = node,
                 .ns = ns,
                 .default_mode = "off",
                 .tools = {.command = {GPU_ADMIN_TOOLS_DOUBLE},
                           .timeout = std::chrono::seconds(20),
                           .boot_timeout = std::chrono::seconds(2)},
                 .eviction_timeout = std::chrono::seconds(5)},
                log) {}
  std::ostringstream text;
  common::StopSignal stop;
  common::Logger log;
  kube::EventRecorder recorder;
  CcManager manager;
};

TEST_F(CcManagerTest, AnInvalidLabelFailsWithAnEventNamingTheValidModesAndTouchesNothing) {
  Boot(WithTee(testing::SingleH100Pcie()));
  InProcess agent(*client_, node_, ns_, kernel_->Root());
  const ApplyResult result = agent.manager.Apply("enabled", agent.stop);
  EXPECT_EQ(result.state, "failed");
  EXPECT_FALSE(result.switched);
  EXPECT_EQ(Label(api::kCcModeStateLabel), "failed");
  EXPECT_EQ(Label(api::kCcReadyStateLabel), "");
  const std::vector<json> events = Events("InvalidCcMode");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "Warning");
  EXPECT_THAT(events[0]["note"].get<std::string>(), HasSubstr("on, off, devtools, ppcie"));
  for (const auto& [key, value] : kDeployLabels) EXPECT_EQ(Label(key), value) << key;
  EXPECT_EQ(GpuMode(testing::kH100PcieBdf), "off");
}

TEST_F(CcManagerTest, AGpuWithoutCcAskedForOnFailsInsteadOfCrashLooping) {
  Boot(WithTee(testing::GpuWithAudioCompanion()));
  InProcess agent(*client_, node_, ns_, kernel_->Root());
  const ApplyResult result = agent.manager.Apply("on", agent.stop);
  EXPECT_EQ(result.state, "failed");
  EXPECT_EQ(Label(api::kCcModeStateLabel), "failed");
  EXPECT_EQ(Label(api::kCcCapableLabel), "false");
  const std::vector<json> events = Events("CcModeUnsupported");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0]["note"].get<std::string>(), HasSubstr(testing::kVgaGpuBdf));
  for (const auto& [key, value] : kDeployLabels) EXPECT_EQ(Label(key), value) << key;
  // Off is fine on any GPU: nothing to do.
  EXPECT_EQ(agent.manager.Apply("off", agent.stop).state, "off");
}

TEST_F(CcManagerTest, AHostWithoutATeeKeepsTheGpusOffAndSaysWhy) {
  Boot(testing::HgxH100x8());  // No sev_snp, no tdx.
  InProcess agent(*client_, node_, ns_, kernel_->Root());
  const ApplyResult result = agent.manager.Apply("on", agent.stop);
  EXPECT_EQ(result.desired, "off");
  EXPECT_EQ(result.state, "off");
  EXPECT_FALSE(result.switched);
  EXPECT_EQ(Label(api::kCcModeStateLabel), "off");
  EXPECT_EQ(Label(api::kCcCapableLabel), "false");
  ASSERT_EQ(Events("CcModeNeedsTee").size(), 1u);
  EXPECT_EQ(GpuMode(testing::HgxGpuBdfs()[0]), "off");
}

}  // namespace
}  // namespace gpuop::operands
