#include "operands/validator/node_status_exporter.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

#include "common/clock.h"
#include "host/pci_device.h"

namespace gpuop::operands {
namespace {

prometheus::Gauge& NodeGauge(prometheus::Registry& registry, const std::string& name,
                             const std::string& help, const std::string& node) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({{"node", node}});
}

}  // namespace

absl::StatusOr<int> CountNvidiaPciFunctions(const host::HostRoot& root) {
  std::error_code error;
  if (!std::filesystem::is_directory(root.Path(host::kPciDevicesDir), error)) {
    return absl::FailedPreconditionError(
        absl::StrCat("no ", root.Path(host::kPciDevicesDir), " (is the host's /sys mounted?)"));
  }
  const host::PciScan scan = host::ScanPciDevices(root);
  return static_cast<int>(std::count_if(
      scan.devices.begin(), scan.devices.end(),
      [](const host::PciDevice& device) { return device.vendor == host::kNvidiaVendorId; }));
}

double WallClockSeconds() {
  // wall-clock: the *_ts_seconds gauges are times of day (seconds since the epoch), as NVIDIA's.
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

NodeStatusExporter::NodeStatusExporter(prometheus::Registry& registry,
                                       NodeStatusExporterOptions options, NodeStatusProbes probes,
                                       common::Logger& log)
    : options_(std::move(options)),
      probes_(std::move(probes)),
      log_(log),
      driver_validation_(NodeGauge(registry, "gpu_operator_node_driver_validation",
                                   "1 if the driver check passed the last time it ran",
                                   options_.node_name)),
      driver_last_success_(NodeGauge(
          registry, "gpu_operator_node_driver_validation_last_success_ts_seconds",
          "when the driver check last passed, in seconds since the epoch", options_.node_name)),
      plugin_devices_(NodeGauge(registry, "gpu_operator_node_device_plugin_devices_total",
                                "GPUs the Node advertises (device plugin resources); -1 when "
                                "the Node cannot be read",
                                options_.node_name)),
      plugin_last_success_(
          NodeGauge(registry, "gpu_operator_node_device_plugin_validation_last_success_ts_seconds",
                    "when the Node last advertised at least one GPU, in seconds since the epoch",
                    options_.node_name)),
      pci_devices_(NodeGauge(registry, "gpu_operator_nvidia_pci_devices_total",
                             "NVIDIA PCI functions on the node; -1 when sysfs cannot be read",
                             options_.node_name)) {
  for (const char* file : {api::kDriverReadyFile, api::kToolkitReadyFile, api::kPluginReadyFile,
                           api::kCudaReadyFile}) {
    const std::string name =
        absl::StrCat("gpu_operator_node_", absl::StrReplaceAll(file, {{"-", "_"}}));
    const std::string help = absl::StrCat("1 while the validator's ", file, " file is on the node");
    files_.push_back({file, &NodeGauge(registry, name, help, options_.node_name)});
  }
  NodeGauge(registry, "gpu_operator_node_metrics_ready_ts_seconds",
            "when this node's status exporter started, in seconds since the epoch",
            options_.node_name)
      .Set(probes_.now_seconds());
}

void NodeStatusExporter::CheckReadyFiles() {
  for (ReadyFile& file : files_) {
    std::error_code error;
    const std::string path = absl::StrCat(options_.validations_dir, "/", file.name);
    const bool present = std::filesystem::exists(path, error);
    file.gauge->Set(present ? 1 : 0);
    if (present != file.present) {
      log_.Info(present ? "ready file appeared" : "ready file gone", {{"file", path}});
      file.present = present;
    }
  }
}

void NodeStatusExporter::CheckDriver() {
  const absl::Status checked = probes_.check_driver();
  driver_validation_.Set(checked.ok() ? 1 : 0);
  if (checked.ok()) driver_last_success_.Set(probes_.now_seconds());
  // "" while the check passes; a failure is never "", so that each change is logged once.
  const std::string problem =
      checked.ok() ? "" : (checked.message().empty() ? "failed" : std::string(checked.message()));
  if (problem == last_driver_problem_) return;
  if (problem.empty()) {
    log_.Info("the driver check passes");
  } else {
    log_.Warn("the driver check fails", {{"error", problem}});
  }
  last_driver_problem_ = problem;
}

void NodeStatusExporter::CheckNode() {
  absl::StatusOr<nlohmann::json> node = probes_.read_node();
  const int64_t devices = node.ok() ? AdvertisedGpus(*node) : -1;
  plugin_devices_.Set(static_cast<double>(devices));
  if (devices > 0) plugin_last_success_.Set(probes_.now_seconds());
  if (devices != last_devices_) {
    if (node.ok()) {
      log_.Info("GPUs the Node advertises", {{"count", absl::StrCat(devices)}});
    } else {
      log_.Warn("cannot read the Node", {{"error", std::string(node.status().message())}});
    }
  }
  last_devices_ = devices;
}

void NodeStatusExporter::CheckPci() {
  absl::StatusOr<int> count = probes_.count_nvidia_pci();
  const int devices = count.ok() ? *count : -1;
  pci_devices_.Set(devices);
  if (devices != last_pci_) {
    if (count.ok()) {
      log_.Info("NVIDIA PCI functions", {{"count", absl::StrCat(devices)}});
    } else {
      log_.Warn("cannot count the NVIDIA PCI functions",
                {{"error", std::string(count.status().message())}});
    }
  }
  last_pci_ = devices;
}

void NodeStatusExporter::Run(const common::StopSignal& stop) {
  using TimePoint = common::Clock::TimePoint;
  common::Clock& clock = common::SteadyClock::Instance();
  struct Check {
    void (NodeStatusExporter::*run)();
    std::chrono::milliseconds interval;
    TimePoint due;
  };
  const TimePoint start = clock.Now();
  Check checks[] = {{&NodeStatusExporter::CheckReadyFiles, options_.files_interval, start},
                    {&NodeStatusExporter::CheckNode, options_.node_interval, start},
                    {&NodeStatusExporter::CheckDriver, options_.driver_interval, start},
                    {&NodeStatusExporter::CheckPci, options_.pci_interval, start}};
  while (!stop.Stopped()) {
    TimePoint next = TimePoint::max();
    for (Check& check : checks) {
      if (clock.Now() >= check.due) {
        (this->*check.run)();
        check.due = clock.Now() + check.interval;
      }
      next = std::min(next, check.due);
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - clock.Now());
    if (stop.SleepFor(std::max(wait, std::chrono::milliseconds(1)))) return;
  }
}

}  // namespace gpuop::operands
