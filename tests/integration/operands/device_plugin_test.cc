// `gpuop device-plugin` as a process against kubelet's side of the device plugin API played by
// tools/testenv/kubelet-harness, which is built on the upstream k8s.io/kubelet deviceplugin
// package and grpc-go: registration, the device list and its health, Allocate,
// GetPreferredAllocation and a kubelet restart, on simulated nodes (tests/fixtures); and the
// CDI spec's life across restarts, decided by the node's deploy label on the test control plane.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>

#include <nlohmann/json.hpp>

#include "cdi/spec_dir.h"
#include "common/subprocess.h"
#include "tests/fixtures/boot_for_test.h"
#include "tests/fixtures/http_get.h"
#include "tests/fixtures/node_files.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/topologies.h"
#include "tests/integration/background_process.h"
#include "tests/integration/kube/informer_testing.h"
#include "tests/integration/testenv.h"

namespace gpuop::operands {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The shared poll with this file's patience: the plugin reacts within a second or two.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  return testing::WaitFor(condition, timeout);
}

// Two H100 SXM5 of the HGX board on vfio-pci, one per NUMA node: the seeds' two-GPU node.
testing::SimHost TwoH100sOnVfio() {
  testing::SimHost board = testing::HgxH100x8();
  testing::SimHost host = board;
  host.devices.clear();
  const std::vector<std::string> gpus = testing::HgxGpuBdfs();
  for (testing::SimPciDevice device : board.devices) {
    if (device.address == gpus.front() || device.address == gpus.back()) {
      device.driver = "vfio-pci";
      host.devices.push_back(device);
    }
  }
  return host;
}

class DevicePluginProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::ScratchDir("device-plugin");
    std::filesystem::create_directories(dir_ + "/device-plugins");
    testing::WriteFile(dir_ + "/validations/vfio-pci-ready", "");
  }

  void StartKubelet() {
    kubelet_ = std::make_unique<testing::BackgroundProcess>(
        std::vector<std::string>{KUBELET_HARNESS, "--dir", dir_ + "/device-plugins"},
        dir_ + "/kubelet.log");
    ASSERT_TRUE(WaitFor([&] {
      return testing::ReadWhole(dir_ + "/kubelet.log").starts_with("listening ");
    })) << testing::ReadWhole(dir_ + "/kubelet.log");
    port_ = std::stoi(testing::ReadWhole(dir_ + "/kubelet.log").substr(10));
  }

  void StartPlugin(const std::string& host_root, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {GPUOP_BINARY,        "device-plugin",
                                     "--host-root",       host_root,
                                     "--plugin-dir",      dir_ + "/device-plugins",
                                     "--validations-dir", dir_ + "/validations",
                                     "--metrics-address", ""};
    argv.insert(argv.end(), extra.begin(), extra.end());
    plugin_ = std::make_unique<testing::BackgroundProcess>(argv, dir_ + "/plugin.log");
  }

  json Get(const std::string& path) {
    const std::string reply = testing::HttpGet(port_, path);
    const size_t body = reply.find("\r\n\r\n");
    if (body == std::string::npos) return nullptr;
    return json::parse(reply.substr(body + 4), nullptr, /*allow_exceptions=*/false);
  }
  json Plugin(const std::string& resource = "nvidia.com/pgpu") {
    const json state = Get("/state");
    return state.is_object() && state.contains(resource) ? state[resource] : json::object();
  }
  std::string Log() { return testing::ReadWhole(dir_ + "/plugin.log"); }

  std::string dir_;
  int port_ = 0;
  std::unique_ptr<testing::BackgroundProcess> kubelet_;
  std::unique_ptr<testing::BackgroundProcess> plugin_;
};

TEST_F(DevicePluginProcessTest, RegistersAdvertisesAndAllocatesTwoPassthroughGpus) {
  testing::SimHost host = TwoH100sOnVfio();
  auto kernel = testing::BootOrFail(host);
  ASSERT_NE(kernel, nullptr);
  StartKubelet();
  StartPlugin(kernel->Root());

  ASSERT_TRUE(WaitFor([&] {
    const json p = Plugin();
    return p.value("streaming", false) && p.value("devices", json::array()).size() == 2;
  })) << Get("/state").dump()
      << "\n"
      << Log();
  const json plugin = Plugin();
  EXPECT_EQ(plugin["endpoint"], "sandbox-pgpu.sock");
  EXPECT_EQ(plugin["options"]["getPreferredAllocationAvailable"], true);
  EXPECT_EQ(plugin["options"]["preStartRequired"], false);
  const std::string first = std::to_string(*host.devices[0].iommu_group);
  const std::string second = std::to_string(*host.devices[1].iommu_group);
  EXPECT_EQ(plugin["devices"],
            json::parse(R"([{"id":")" + first + R"(","health":"Healthy","numa":[0]},)" +
                        R"({"id":")" + second + R"(","health":"Healthy","numa":[1]}])"));
  std::cout << "kubelet harness sees: " << plugin.dump() << "\n";

  const json allocated = Get("/allocate?resource=nvidia.com/pgpu&ids=" + first + "," + second);
  std::cout << "Allocate reply: " << allocated.dump() << "\n";
  ASSERT_TRUE(allocated.contains("containerResponses")) << allocated.dump();
  const json& response = allocated["containerResponses"][0];
  EXPECT_EQ(response["devices"],
            json::parse(R"([{"containerPath":"/dev/vfio/vfio","hostPath":"/dev/vfio/vfio",)"
                        R"("permissions":"mrw"},)"
                        R"({"containerPath":"/dev/vfio/)" +
                        first + R"(","hostPath":"/dev/vfio/)" + first +
                        R"(","permissions":"mrw"},)" + R"({"containerPath":"/dev/vfio/)" + second +
                        R"(","hostPath":"/dev/vfio/)" + second + R"(","permissions":"mrw"}])"));
  EXPECT_EQ(response["cdiDevices"],
            json::parse(R"([{"name":"nvidia.com/pgpu=)" + first +
                        R"("},{"name":"nvidia.com/pgpu=)" + second + R"("}])"));
  EXPECT_EQ(response["envs"]["PCI_RESOURCE_NVIDIA_COM_PGPU"],
            host.devices[0].address + "," + host.devices[1].address);
  EXPECT_EQ(response["annotations"]["cdi.k8s.io/gpuop"],
            "nvidia.com/pgpu=" + first + ",nvidia.com/pgpu=" + second);

  // Unknown IDs are refused with the plugin's words, as kubelet would log them.
  const json refused = Get("/allocate?resource=nvidia.com/pgpu&ids=999");
  EXPECT_THAT(refused.value("error", ""), HasSubstr("nvidia.com/pgpu=999"));

  // One GPU wanted, the second must be in: the plugin gives just that one.
  const json preferred = Get("/preferred?resource=nvidia.com/pgpu&available=" + first + "," +
                             second + "&must=" + second + "&size=1");
  EXPECT_EQ(preferred["containerResponses"][0]["deviceIDs"], json::array({second})) << preferred;
}

// What the upstream CDI library (the build of tools/peers `binary`) makes of a spec directory.
json CdiCheck(const char* binary, const std::string& spec_dir,
              const std::vector<std::string>& devices) {
  std::vector<std::string> argv = {binary, "--spec-dir", spec_dir};
  argv.insert(argv.end(), devices.begin(), devices.end());
  absl::StatusOr<common::ProcessResult> run = common::RunProcess(argv);
  if (!run.ok()) return {{"failed", std::string(run.status().message())}};
  json report = json::parse(run->out, nullptr, /*allow_exceptions=*/false);
  report["exit_code"] = run->exit_code;
  report["stderr"] = run->err;
  return report;
}

TEST_F(DevicePluginProcessTest, WritesACdiSpecTheUpstreamLibrariesResolve) {
  testing::SimHost host = TwoH100sOnVfio();
  auto kernel = testing::BootOrFail(host);
  ASSERT_NE(kernel, nullptr);
  const std::string first = std::to_string(*host.devices[0].iommu_group);
  const std::string second = std::to_string(*host.devices[1].iommu_group);
  // Character devices in place of the simulated plain files, as on a real node: each is a link
  // to one of the host's own (/dev/null 1:3, /dev/zero 1:5, /dev/full 1:7).
  const std::map<std::string, std::string> nodes = {{"/dev/vfio/vfio", "/dev/null"},
                                                    {"/dev/vfio/" + first, "/dev/zero"},
                                                    {"/dev/vfio/" + second, "/dev/full"}};
  for (const auto& [path, target] : nodes) {
    std::filesystem::remove(kernel->Root() + path);
    std::filesystem::create_symlink(target, kernel->Root() + path);
  }
  StartKubelet();
  StartPlugin(kernel->Root());

  const std::string spec_dir = kernel->Root() + "/var/run/cdi";
  const std::string spec = spec_dir + "/nvidia.com-pgpu.yaml";
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(spec); })) << Log();
  std::cout << spec << ":\n" << testing::ReadWhole(spec);
  // The line follows the write: the file can be there a moment before it is.
  EXPECT_TRUE(WaitFor([&] { return Log().find("CDI spec written") != std::string::npos; }))
      << Log();

  // The names kubelet got as device IDs are the names the CDI libraries resolve.
  ASSERT_TRUE(WaitFor([&] { return Plugin().value("devices", json::array()).size() == 2; }))
      << Log();
  const json plugin = Plugin();
  const std::vector<std::string> wanted = {
      "nvidia.com/pgpu=" + plugin["devices"][0]["id"].get<std::string>(),
      "nvidia.com/pgpu=" + plugin["devices"][1]["id"].get<std::string>()};
  for (const char* library : {CDI_CHECK, CDI_CHECK_V06}) {
    const json report = CdiCheck(library, spec_dir, wanted);
    SCOPED_TRACE(report.dump(2));
    EXPECT_EQ(report.value("exit_code", -1), 0);
    EXPECT_EQ(report["errors"], json::array());
    EXPECT_EQ(report["devices"], json(wanted));
    // Fully specified nodes: injected from the spec alone, though /dev/vfio/<group> is not on
    // this machine.
    EXPECT_THAT(
        report["injected"],
        ::testing::UnorderedElementsAre(
            json{{"path", "/dev/vfio/vfio"}, {"type", "c"}, {"major", 1}, {"minor", 3}},
            json{{"path", "/dev/vfio/" + first}, {"type", "c"}, {"major", 1}, {"minor", 5}},
            json{{"path", "/dev/vfio/" + second}, {"type", "c"}, {"major", 1}, {"minor", 7}}));
  }

  // A GPU taken off vfio keeps its name (kubelet still lists it, Unhealthy); the spec is
  // rewritten whole, never left torn, and still loads.
  ASSERT_TRUE(kernel
                  ->WriteAttribute("/sys/bus/pci/drivers/vfio-pci/unbind", host.devices[1].address,
                                   std::chrono::seconds(5))
                  .ok());
  EXPECT_TRUE(WaitFor([&] {
    return testing::ReadWhole(spec).find("minor: 7") == std::string::npos;
  })) << testing::ReadWhole(spec);
  const json after = CdiCheck(CDI_CHECK, spec_dir, {wanted[0]});
  EXPECT_EQ(after.value("exit_code", -1), 0) << after.dump(2);
  EXPECT_EQ(after["devices"], json(wanted)) << after.dump(2);

  // A stop keeps the spec for the Kata pods that resolve their devices through it; without a
  // node name there is no telling a restart from leaving the node (see the next test).
  plugin_->Signal(SIGTERM);
  EXPECT_EQ(plugin_->Wait(), 0) << Log();
  EXPECT_TRUE(std::filesystem::exists(spec)) << Log();
}

TEST_F(DevicePluginProcessTest, TheCdiSpecStaysOnRestartsAndGoesWithTheLabel) {
  auto kernel = testing::BootOrFail(TwoH100sOnVfio());
  ASSERT_NE(kernel, nullptr);
  auto client = kube::AdminClient();
  const std::string node = testing::UniqueName("pgpu-node");
  const std::string label = "nvidia.com/gpu.deploy.kata-sandbox-device-plugin";
  ASSERT_TRUE(client
                  ->Create(kube::resources::kNodes, "",
                           {{"apiVersion", "v1"},
                            {"kind", "Node"},
                            {"metadata", {{"name", node}, {"labels", {{label, "true"}}}}}})
                  .ok());
  const auto set_label = [&](const json& value) {
    return client
        ->MergePatch(kube::resources::kNodes, "", node,
                     {{"metadata", {{"labels", {{label, value}}}}}})
        .ok();
  };
  const std::vector<std::string> api = {"--node-name", node, "--kubeconfig",
                                        testing::AdminKubeconfig()};
  const std::string spec = kernel->Root() + "/var/run/cdi/nvidia.com-pgpu.yaml";
  StartKubelet();

  // A rollout or a crash: the label still true, the spec stays as it was, so a container that
  // restarts inside a running Kata pod still resolves nvidia.com/pgpu=<group>.
  StartPlugin(kernel->Root(), api);
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(spec); })) << Log();
  const std::string written = testing::ReadWhole(spec);
  plugin_->Signal(SIGTERM);
  EXPECT_EQ(plugin_->Wait(), 0) << Log();
  EXPECT_THAT(Log(), HasSubstr("still deployed on this node"));
  EXPECT_EQ(testing::ReadWhole(spec), written);

  // Paused by the CC manager for a mode switch, which puts the label back afterwards: the same.
  // The next plugin takes the earlier run's spec over and serves as before.
  ASSERT_TRUE(set_label("paused-for-cc-mode-change"));
  StartPlugin(kernel->Root(), api);
  ASSERT_TRUE(WaitFor([&] {
    return Log().find("msg=\"registered with kubelet\"") != std::string::npos;
  })) << Log();
  EXPECT_THAT(Log(), HasSubstr("CDI spec of an earlier run taken over"));
  plugin_->Signal(SIGTERM);
  EXPECT_EQ(plugin_->Wait(), 0) << Log();
  EXPECT_EQ(testing::ReadWhole(spec), written);

  // Taken off the node (helm uninstall, a workload change: the label is gone before the pod
  // stops): the spec goes, also when this run had written nothing yet (still waiting for the
  // validator) and only took the earlier run's over.
  ASSERT_TRUE(set_label(nullptr));
  std::filesystem::remove(dir_ + "/validations/vfio-pci-ready");
  StartPlugin(kernel->Root(), api);
  ASSERT_TRUE(WaitFor([&] { return Log().find("waiting for the validator") != std::string::npos; }))
      << Log();
  EXPECT_THAT(Log(), HasSubstr("CDI spec of an earlier run taken over"));
  plugin_->Signal(SIGTERM);
  EXPECT_EQ(plugin_->Wait(), 0) << Log();
  EXPECT_THAT(Log(), HasSubstr("no longer deployed on this node"));
  EXPECT_FALSE(std::filesystem::exists(spec)) << Log();

  EXPECT_TRUE(client->Delete(kube::resources::kNodes, "", node).ok());
}

TEST_F(DevicePluginProcessTest, AGpuLeavingVfioTurnsUnhealthyAtOnceAndRecovers) {
  testing::SimHost host = TwoH100sOnVfio();
  auto kernel = testing::BootOrFail(host);
  ASSERT_NE(kernel, nullptr);
  StartKubelet();
  StartPlugin(kernel->Root());
  ASSERT_TRUE(WaitFor([&] { return Plugin().value("devices", json::array()).size() == 2; }))
      << Log();
  const std::string bdf = host.devices[1].address;
  const auto health = [&] {
    const json devices = Plugin().value("devices", json::array());
    return devices.size() == 2 ? devices[1].value("health", "") : "";
  };

  // The kernel's unbind takes /dev/vfio/<group> away (no member left on vfio).
  const auto unbound_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(
      kernel->WriteAttribute("/sys/bus/pci/drivers/vfio-pci/unbind", bdf, std::chrono::seconds(5))
          .ok());
  EXPECT_TRUE(WaitFor([&] { return health() == "Unhealthy"; }, std::chrono::seconds(1)))
      << Get("/state").dump() << "\n"
      << Log();
  std::cout << "unbind -> Unhealthy seen by kubelet: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - unbound_at)
                   .count()
            << " ms\n";
  EXPECT_EQ(Plugin().value("devices", json::array()).at(0).value("health", ""), "Healthy");
  EXPECT_THAT(Log(), HasSubstr("device unhealthy"));

  // Back as the vfio manager binds: driver_override first, since vfio-pci lists no ids.
  absl::Status overridden = kernel->WriteAttribute(
      "/sys/bus/pci/devices/" + bdf + "/driver_override", "vfio-pci", std::chrono::seconds(5));
  ASSERT_TRUE(overridden.ok()) << overridden;
  absl::Status bound =
      kernel->WriteAttribute("/sys/bus/pci/drivers/vfio-pci/bind", bdf, std::chrono::seconds(5));
  ASSERT_TRUE(bound.ok()) << bound;
  EXPECT_TRUE(WaitFor([&] { return health() == "Healthy"; }, std::chrono::seconds(1)))
      << Get("/state").dump() << "\n"
      << Log();
}

TEST_F(DevicePluginProcessTest, AKubeletRestartIsFollowedByANewRegistration) {
  auto kernel = testing::BootOrFail(TwoH100sOnVfio());
  ASSERT_NE(kernel, nullptr);
  StartKubelet();
  StartPlugin(kernel->Root());
  ASSERT_TRUE(WaitFor([&] { return Plugin().value("streaming", false); })) << Log();
  EXPECT_EQ(Plugin()["registrations"], 1);

  // Kubelet deletes every socket (ours too) and serves a new kubelet.sock.
  ASSERT_EQ(Get("/restart")["restarted"], true);
  EXPECT_TRUE(WaitFor([&] {
    const json p = Plugin();
    return p.value("registrations", 0) == 2 && p.value("streaming", false) &&
           p.value("devices", json::array()).size() == 2;
  })) << Get("/state").dump()
      << "\n"
      << Log();
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/device-plugins/sandbox-pgpu.sock"));
}

TEST_F(DevicePluginProcessTest, WaitsForAKubeletThatIsNotUpYetAndForTheValidator) {
  auto kernel = testing::BootOrFail(TwoH100sOnVfio());
  ASSERT_NE(kernel, nullptr);
  std::filesystem::remove(dir_ + "/validations/vfio-pci-ready");
  StartPlugin(kernel->Root());
  EXPECT_TRUE(WaitFor([&] { return Log().find("waiting for the validator") != std::string::npos; }))
      << Log();
  testing::WriteFile(dir_ + "/validations/vfio-pci-ready", "");
  EXPECT_TRUE(WaitFor([&] {
    return Log().find("not registered with kubelet yet") != std::string::npos;
  })) << Log();
  StartKubelet();  // Later than the plugin, as after a node reboot.
  EXPECT_TRUE(WaitFor([&] { return Plugin().value("devices", json::array()).size() == 2; }))
      << Get("/state").dump() << "\n"
      << Log();
}

TEST_F(DevicePluginProcessTest, MetricsCountDevicesByHealthAndTheRegistration) {
  auto kernel = testing::BootOrFail(TwoH100sOnVfio());
  ASSERT_NE(kernel, nullptr);
  StartKubelet();
  const int metrics_port = testing::FreeLoopbackPort();
  StartPlugin(kernel->Root(), {"--metrics-address", "127.0.0.1:" + std::to_string(metrics_port)});
  ASSERT_TRUE(WaitFor([&] { return Plugin().value("devices", json::array()).size() == 2; }))
      << Log();
  std::string metrics;
  EXPECT_TRUE(WaitFor([&] {
    metrics = testing::HttpGet(metrics_port, "/metrics");
    return metrics.find("gpuop_device_plugin_registrations_total 1") != std::string::npos;
  })) << metrics;
  EXPECT_THAT(metrics, HasSubstr("gpuop_device_plugin_devices{resource=\"nvidia.com/pgpu\","
                                 "health=\"Healthy\"} 2"));
  EXPECT_THAT(metrics, HasSubstr("gpuop_device_plugin_registered{resource=\"nvidia.com/pgpu\"} 1"));
  EXPECT_THAT(testing::HttpGet(metrics_port, "/healthz"), ::testing::StartsWith("HTTP/1.1 200"));
}

TEST_F(DevicePluginProcessTest, WithoutGpusNothingRegistersAndTheProcessStaysUp) {
  auto kernel = testing::BootOrFail(testing::IommuOff());
  ASSERT_NE(kernel, nullptr);
  // What an earlier run left for GPUs that are gone now (the spec outlives a restart) goes at the
  // first scan; the spec of the container toolkit, beside it, is not gpuop's and stays.
  const std::string cdi_dir = kernel->Root() + "/var/run/cdi";
  ASSERT_TRUE(
      cdi::WriteSpecIfChanged(
          cdi_dir, {.kind = "nvidia.com/pgpu",
                    .devices = {{.name = "38", .device_nodes = {{.path = "/dev/vfio/38"}}}}})
          .ok());
  testing::WriteFile(cdi_dir + "/nvidia.com-gpu.yaml",
                     "cdiVersion: \"0.5.0\"\nkind: nvidia.com/gpu\n");
  StartKubelet();
  StartPlugin(kernel->Root());
  EXPECT_TRUE(WaitFor([&] { return !std::filesystem::exists(cdi_dir + "/nvidia.com-pgpu.yaml"); }))
      << Log();
  // The plugin logs after the removal: the file can be gone a moment before the line is there.
  EXPECT_TRUE(WaitFor([&] {
    return Log().find("CDI spec removed: no devices left") != std::string::npos;
  })) << Log();
  // Nothing registers: the whole 2 s pass, unless a registration ends them early.
  EXPECT_FALSE(WaitFor([&] { return Get("/state") != json::object(); }, std::chrono::seconds(2)));
  EXPECT_EQ(Get("/state"), json::object());
  EXPECT_TRUE(std::filesystem::exists(cdi_dir + "/nvidia.com-gpu.yaml"));
  plugin_->Signal(SIGTERM);
  EXPECT_EQ(plugin_->Wait(), 0) << Log();
}

TEST_F(DevicePluginProcessTest, PerModelResourcesAndASocketRemovedOnShutdown) {
  auto kernel = testing::BootOrFail(TwoH100sOnVfio());
  ASSERT_NE(kernel, nullptr);
  StartKubelet();
  StartPlugin(kernel->Root(), {"--gpu-alias", "", "--allocate-cdi", "none"});
  const std::string resource = "nvidia.com/2330";  // No pci.ids on the simulated node.
  ASSERT_TRUE(WaitFor([&] { return Plugin(resource).value("devices", json::array()).size() == 2; }))
      << Get("/state").dump() << "\n"
      << Log();
  const std::string id = Plugin(resource)["devices"][0]["id"];
  const json allocated = Get("/allocate?resource=" + resource + "&ids=" + id);
  EXPECT_FALSE(allocated["containerResponses"][0].contains("cdiDevices")) << allocated;
  // Without pci.ids the model is its device ID, which CDI cannot take as a class: said, not
  // written.
  EXPECT_TRUE(WaitFor([&] { return Log().find("cannot write the CDI spec") != std::string::npos; }))
      << Log();
  EXPECT_THAT(Log(),
              HasSubstr("kind=nvidia.com/2330 error=\"CDI spec for nvidia.com/2330 not written"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/device-plugins/sandbox-2330.sock"));
  plugin_->Signal(SIGTERM);
  EXPECT_EQ(plugin_->Wait(), 0) << Log();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/device-plugins/sandbox-2330.sock"));
}

}  // namespace
}  // namespace gpuop::operands
