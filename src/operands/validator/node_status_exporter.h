#pragma once

// The node status exporter (NVIDIA GPU Operator v26.7, COMPONENT=metrics of nvidia-validator,
// DaemonSet nvidia-node-status-exporter): how far the container path has come on this node, for
// Prometheus on :8000, with NVIDIA's metric names so that their dashboards and alerts work
// unchanged. Every gauge has the label node="<this node>".
//
//   gpu_operator_node_metrics_ready_ts_seconds    when the exporter started
//   gpu_operator_node_{driver,toolkit,plugin,cuda}_ready
//                                                 1 while the validator's ready file is there
//   gpu_operator_node_driver_validation           1 when the driver check passed last time
//   gpu_operator_node_driver_validation_last_success_ts_seconds
//   gpu_operator_node_device_plugin_devices_total GPUs the Node advertises; -1: unreadable
//   gpu_operator_node_device_plugin_validation_last_success_ts_seconds
//                                                 the last read that found at least one
//   gpu_operator_nvidia_pci_devices_total         NVIDIA PCI functions; -1: unreadable
//
// Each check runs at once, then at NVIDIA's pace (files and the Node every 30 s, the driver and
// the PCI count every 60 s). Differs from NVIDIA's on purpose: the driver check only looks (it
// writes no ready file and makes no /dev/char link, which are the validator pod's), and the PCI
// count reads sysfs instead of grepping lspci's output for "nvidia", so that it needs no lspci
// in the image and counts by vendor id, not by name.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "api/paths.h"
#include "common/logger.h"
#include "common/stop_signal.h"
#include "host/host_root.h"
#include "operands/validator/plugin_validation.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace gpuop::operands {

// What the exporter looks at, each a function so that tests can steer it.
struct NodeStatusProbes {
  // The driver check alone: OK when a driver works here (ProbeDriver).
  std::function<absl::Status()> check_driver;
  // The Node, to count the GPUs it advertises.
  NodeReader read_node;
  // How many NVIDIA PCI functions the node has (CountNvidiaPciFunctions).
  std::function<absl::StatusOr<int>()> count_nvidia_pci;
  // Seconds since the epoch, for the *_ts_seconds gauges.
  std::function<double()> now_seconds;
};

struct NodeStatusExporterOptions {
  std::string node_name;
  std::string validations_dir = api::kValidationsDir;
  std::chrono::milliseconds files_interval = std::chrono::seconds(30);
  std::chrono::milliseconds node_interval = std::chrono::seconds(30);
  std::chrono::milliseconds driver_interval = std::chrono::seconds(60);
  std::chrono::milliseconds pci_interval = std::chrono::seconds(60);
};

// NVIDIA functions (vendor 0x10de: GPUs, their audio functions, NVSwitches) under the host's
// /sys/bus/pci/devices. FailedPrecondition when that folder is missing (sysfs not mounted).
absl::StatusOr<int> CountNvidiaPciFunctions(const host::HostRoot& root);

// Seconds since the epoch, from the system clock.
double WallClockSeconds();

class NodeStatusExporter {
 public:
  // Registers the gauges in `registry`, which must outlive this.
  NodeStatusExporter(prometheus::Registry& registry, NodeStatusExporterOptions options,
                     NodeStatusProbes probes, common::Logger& log);

  // One round of each check, as Run does them. Logged only when a value changes, as NVIDIA's.
  void CheckReadyFiles();
  void CheckDriver();
  void CheckNode();
  void CheckPci();

  // Every check at once, then each at its own interval until `stop` fires.
  void Run(const common::StopSignal& stop);

 private:
  // A validator ready file ("driver-ready") and its gauge (gpu_operator_node_driver_ready).
  struct ReadyFile {
    const char* name;
    prometheus::Gauge* gauge;
    bool present = false;
  };

  const NodeStatusExporterOptions options_;
  const NodeStatusProbes probes_;
  common::Logger& log_;
  prometheus::Gauge& driver_validation_;
  prometheus::Gauge& driver_last_success_;
  prometheus::Gauge& plugin_devices_;
  prometheus::Gauge& plugin_last_success_;
  prometheus::Gauge& pci_devices_;
  std::vector<ReadyFile> files_;
  std::string last_driver_problem_ = "not checked yet";
  int64_t last_devices_ = -2;  // Neither a count nor -1: the first read is always logged.
  int last_pci_ = -2;
};

}  // namespace gpuop::operands
