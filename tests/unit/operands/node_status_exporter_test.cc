// The node status exporter: each gauge against what it reports on (ready files in a real folder,
// the driver check on a simulated driver root run through fork/exec, a Node's capacity, the PCI
// functions of simulated sysfs trees), and the whole exporter served and scraped over HTTP.

#include "operands/validator/node_status_exporter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"

#include "common/metrics_server.h"
#include "operands/validator/driver_validation.h"
#include "prometheus/text_serializer.h"
#include "tests/fixtures/http_get.h"
#include "tests/fixtures/simulated_driver_root.h"
#include "tests/fixtures/simulated_kernel.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/topologies.h"
#include "tests/fixtures/wait_for.h"

namespace gpuop::operands {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::IsOkAndHolds;
using ::testing::Not;
using testing::StatusIs;

constexpr char kNode[] = "gpu-node-1";

json NodeWithGpus(int gpus) {
  return {{"metadata", {{"name", kNode}}},
          {"status", {{"capacity", {{"cpu", "64"}, {"nvidia.com/gpu", std::to_string(gpus)}}}}}};
}

// Probes whose answers a test sets; the clock stands at `now`.
struct SteeredProbes {
  absl::Mutex mu;
  absl::Status driver ABSL_GUARDED_BY(mu) = absl::OkStatus();
  absl::StatusOr<json> node ABSL_GUARDED_BY(mu) = NodeWithGpus(0);
  absl::StatusOr<int> pci ABSL_GUARDED_BY(mu) = 0;
  double now ABSL_GUARDED_BY(mu) = 1000;

  NodeStatusProbes Probes() {
    return {.check_driver =
                [this] {
                  absl::MutexLock lock(&mu);
                  return driver;
                },
            .read_node =
                [this] {
                  absl::MutexLock lock(&mu);
                  return node;
                },
            .count_nvidia_pci =
                [this] {
                  absl::MutexLock lock(&mu);
                  return pci;
                },
            .now_seconds =
                [this] {
                  absl::MutexLock lock(&mu);
                  return now;
                }};
  }
};

class NodeStatusExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    validations_ = testing::ScratchDir("nodestatus") + "/validations";
    ASSERT_THAT(testing::MakeDirs(validations_), testing::IsOk());
  }

  NodeStatusExporter& Exporter() {
    if (!exporter_) {
      exporter_ = std::make_unique<NodeStatusExporter>(
          registry_, NodeStatusExporterOptions{.node_name = kNode, .validations_dir = validations_},
          probes_.Probes(), log_);
    }
    return *exporter_;
  }

  // The value of `name`{node="gpu-node-1"} in the registry's text, or "absent".
  std::string Value(const std::string& name) {
    const std::string text = prometheus::TextSerializer().Serialize(registry_.Collect());
    const std::string prefix = name + "{node=\"" + kNode + "\"} ";
    const size_t at = text.find("\n" + prefix);
    if (at == std::string::npos) return "absent";
    const size_t start = at + 1 + prefix.size();
    return text.substr(start, text.find('\n', start) - start);
  }

  std::string validations_;
  prometheus::Registry registry_;
  SteeredProbes probes_;
  std::ostringstream log_out_;
  common::Logger log_{log_out_, common::LogFormat::kText};
  std::unique_ptr<NodeStatusExporter> exporter_;
};

TEST_F(NodeStatusExporterTest, EachReadyGaugeFollowsItsFile) {
  Exporter().CheckReadyFiles();
  for (const char* gauge : {"driver", "toolkit", "plugin", "cuda"}) {
    EXPECT_EQ(Value(std::string("gpu_operator_node_") + gauge + "_ready"), "0") << gauge;
  }
  testing::WriteFile(validations_ + "/driver-ready", "IS_HOST_DRIVER=true\n");
  testing::WriteFile(validations_ + "/toolkit-ready", "");
  Exporter().CheckReadyFiles();
  EXPECT_EQ(Value("gpu_operator_node_driver_ready"), "1");
  EXPECT_EQ(Value("gpu_operator_node_toolkit_ready"), "1");
  EXPECT_EQ(Value("gpu_operator_node_plugin_ready"), "0");
  EXPECT_EQ(Value("gpu_operator_node_cuda_ready"), "0");
  // The validator pod stopped and took its proofs back.
  std::filesystem::remove(validations_ + "/driver-ready");
  Exporter().CheckReadyFiles();
  EXPECT_EQ(Value("gpu_operator_node_driver_ready"), "0");
  EXPECT_THAT(log_out_.str(), HasSubstr("ready file gone"));
}

TEST_F(NodeStatusExporterTest, TheDriverGaugesKeepTheLastSuccessThroughAFailure) {
  Exporter().CheckDriver();
  EXPECT_EQ(Value("gpu_operator_node_driver_validation"), "1");
  EXPECT_EQ(Value("gpu_operator_node_driver_validation_last_success_ts_seconds"), "1000");
  {
    absl::MutexLock lock(&probes_.mu);
    probes_.driver = absl::UnavailableError("nvidia-smi exited 9");
    probes_.now = 1060;
  }
  Exporter().CheckDriver();
  EXPECT_EQ(Value("gpu_operator_node_driver_validation"), "0");
  EXPECT_EQ(Value("gpu_operator_node_driver_validation_last_success_ts_seconds"), "1000");
  EXPECT_THAT(log_out_.str(), HasSubstr("nvidia-smi exited 9"));
}

TEST_F(NodeStatusExporterTest, TheDeviceCountIsMinusOneWhenTheNodeCannotBeRead) {
  Exporter().CheckNode();
  EXPECT_EQ(Value("gpu_operator_node_device_plugin_devices_total"), "0");
  // No GPU advertised yet: no success to date.
  EXPECT_EQ(Value("gpu_operator_node_device_plugin_validation_last_success_ts_seconds"), "0");
  {
    absl::MutexLock lock(&probes_.mu);
    probes_.node = NodeWithGpus(4);
  }
  Exporter().CheckNode();
  EXPECT_EQ(Value("gpu_operator_node_device_plugin_devices_total"), "4");
  EXPECT_EQ(Value("gpu_operator_node_device_plugin_validation_last_success_ts_seconds"), "1000");
  {
    absl::MutexLock lock(&probes_.mu);
    probes_.node = absl::UnavailableError("connection refused");
  }
  Exporter().CheckNode();
  EXPECT_EQ(Value("gpu_operator_node_device_plugin_devices_total"), "-1");
  EXPECT_THAT(log_out_.str(), HasSubstr("connection refused"));
}

TEST_F(NodeStatusExporterTest, ThePciCountIsMinusOneWhenSysfsCannotBeRead) {
  {
    absl::MutexLock lock(&probes_.mu);
    probes_.pci = 9;
  }
  Exporter().CheckPci();
  EXPECT_EQ(Value("gpu_operator_nvidia_pci_devices_total"), "9");
  {
    absl::MutexLock lock(&probes_.mu);
    probes_.pci = absl::FailedPreconditionError("no /sys/bus/pci/devices");
  }
  Exporter().CheckPci();
  EXPECT_EQ(Value("gpu_operator_nvidia_pci_devices_total"), "-1");
}

TEST_F(NodeStatusExporterTest, RunChecksEverythingAtOnceAndStopsWhenAsked) {
  testing::WriteFile(validations_ + "/cuda-ready", "");
  {
    absl::MutexLock lock(&probes_.mu);
    probes_.node = NodeWithGpus(2);
    probes_.pci = 3;
  }
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> server = common::MetricsServer::Start(
      "127.0.0.1:0", std::shared_ptr<prometheus::Registry>(&registry_, [](auto*) {}));
  ASSERT_THAT(server.status(), testing::IsOk());
  common::StopSignal stop;
  std::thread run([&] { Exporter().Run(stop); });
  const int port = (*server)->Port();
  // The intervals are NVIDIA's (30 s and 60 s): what shows is the first round.
  EXPECT_TRUE(testing::WaitFor([&] {
    return absl::StrContains(testing::HttpGet(port, "/metrics"),
                             "gpu_operator_nvidia_pci_devices_total{node=\"gpu-node-1\"} 3");
  }));
  const std::string text = testing::HttpGet(port, "/metrics");
  EXPECT_THAT(text, HasSubstr("gpu_operator_node_cuda_ready{node=\"gpu-node-1\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("gpu_operator_node_device_plugin_devices_total{node=\"gpu-node-1\"} 2"));
  EXPECT_THAT(text, HasSubstr("gpu_operator_node_driver_validation{node=\"gpu-node-1\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("gpu_operator_node_metrics_ready_ts_seconds{node=\"gpu-node-1\"} 1000"));
  stop.Stop();
  run.join();
}

TEST(CountNvidiaPciFunctions, CountsByVendorIdAndNotOtherFunctions) {
  // A NIC beside one H100: the NIC is not NVIDIA's.
  absl::StatusOr<std::unique_ptr<testing::SimulatedKernel>> single =
      testing::SimulatedKernel::Create(testing::SingleH100Pcie());
  ASSERT_THAT(single.status(), testing::IsOk());
  EXPECT_THAT(CountNvidiaPciFunctions(host::HostRoot((*single)->Root())), IsOkAndHolds(1));
  // A GPU and its HD-audio function, both NVIDIA's (lspci names both "NVIDIA Corporation").
  absl::StatusOr<std::unique_ptr<testing::SimulatedKernel>> audio =
      testing::SimulatedKernel::Create(testing::GpuWithAudioCompanion());
  ASSERT_THAT(audio.status(), testing::IsOk());
  EXPECT_THAT(CountNvidiaPciFunctions(host::HostRoot((*audio)->Root())), IsOkAndHolds(2));
  // Eight GPUs and four NVSwitches.
  absl::StatusOr<std::unique_ptr<testing::SimulatedKernel>> hgx =
      testing::SimulatedKernel::Create(testing::HgxH100x8());
  ASSERT_THAT(hgx.status(), testing::IsOk());
  EXPECT_THAT(CountNvidiaPciFunctions(host::HostRoot((*hgx)->Root())), IsOkAndHolds(12));
  // No sysfs at all.
  EXPECT_THAT(CountNvidiaPciFunctions(host::HostRoot(testing::ScratchDir("nosys"))),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("/sys/bus/pci/devices")));
}

// The exporter's driver check on a simulated driver container's root, through fork/exec: it
// follows the module, and writes nothing where the validator pod keeps its proofs.
TEST(ProbeDriver, FollowsTheDriverAndWritesNothing) {
  const std::string dir = testing::ScratchDir("probe");
  const std::string host = dir + "/host";
  const std::string driver = dir + "/driver";
  const std::string validations = dir + "/validations";
  ASSERT_THAT(testing::MakeDirs(host), testing::IsOk());
  ASSERT_THAT(testing::MakeDirs(validations), testing::IsOk());
  ASSERT_THAT(testing::MakeSimulatedDriverRoot(driver), testing::IsOk());
  const DriverValidationOptions options{.driver_install_dir_ctr_path = driver,
                                        .validations_dir = validations,
                                        .operator_managed_driver = true};
  ProcessNvidiaSmiRunner runner;
  EXPECT_THAT(ProbeDriver(host::HostRoot(host), options, runner), Not(testing::IsOk()));
  ASSERT_THAT(testing::SetNvidiaModuleLoaded(driver, true), testing::IsOk());
  // Without the driver container's .driver-ctr-ready: that is the validator pod's to wait for.
  EXPECT_THAT(ProbeDriver(host::HostRoot(host), options, runner), testing::IsOk());
  // With it, and GDRCopy on and loaded, the driver step would write gdrcopy-ready; the probe
  // does not.
  testing::WriteFile(validations + "/.driver-ctr-ready", "GDRCOPY_ENABLED: true\n");
  testing::WriteFile(host + "/proc/modules", "gdrdrv 24576 0 - Live 0xffffffffc1a00000 (OE)\n");
  EXPECT_THAT(ProbeDriver(host::HostRoot(host), options, runner), testing::IsOk());
  EXPECT_THAT(testing::NvidiaSmiCalls(driver), ::testing::SizeIs(3));
  std::vector<std::string> written;
  for (const auto& entry : std::filesystem::directory_iterator(validations)) {
    written.push_back(entry.path().filename());
  }
  EXPECT_THAT(written, ::testing::ElementsAre(".driver-ctr-ready"));
}

}  // namespace
}  // namespace gpuop::operands
