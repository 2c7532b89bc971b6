// `gpuop device-plugin`: the sandbox device plugin node agent (operands/device_plugin).

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

#include "api/agent_endpoints.h"
#include "api/paths.h"
#include "cli/dispatcher.h"
#include "cli/flag_parser.h"
#include "cli/signals.h"
#include "cli/subcommands.h"
#include "common/logger.h"
#include "common/metrics_server.h"
#include "operands/device_plugin/device_plugin_agent.h"
#include "operands/device_plugin/device_plugin_metrics.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Advertises the node's vfio-bound GPUs to kubelet (device plugin API v1beta1) as\n"
    "nvidia.com/pgpu, or one resource per model, with IDs that are the CDI device names Kata's\n"
    "cold-plug looks up; hands out /dev/vfio nodes and CDI names in Allocate, and turns a GPU\n"
    "Unhealthy the moment it leaves vfio or its device node goes.";

int RunDevicePlugin(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string host_root = EnvOr("HOST_ROOT", "/");
  std::string plugin_dir = "/var/lib/kubelet/device-plugins";
  std::string validations_dir = api::kValidationsDir;
  std::string cdi_dir = api::kCdiSpecDir;
  std::string dev_root = EnvOr("DEV_ROOT", "/");
  std::string pci_ids = EnvOr("GPUOP_PCI_IDS", "");
  // NVIDIA's plugin: P_GPU_ALIAS unset means "pgpu"; set but empty means one resource per model.
  const char* alias_env = std::getenv("P_GPU_ALIAS");  // NOLINT(concurrency-mt-unsafe): at start.
  std::string alias = alias_env == nullptr ? "pgpu" : alias_env;
  std::string cdi = EnvOr("ALLOCATE_CDI", "devices,annotations");
  std::string metrics_address = api::kAgentMetricsAddress;
  std::string log_format = EnvOr("LOG_FORMAT", "text");
  std::string resync_seconds = "30";
  bool wait_for_vfio = true;
  FlagParser flags("device-plugin");
  flags.String("host-root", &host_root, "where the host's / is mounted ($HOST_ROOT)");
  flags.String("plugin-dir", &plugin_dir, "kubelet's device-plugins directory");
  flags.String("pci-ids", &pci_ids,
               "a pci.ids in this container for hosts without one; the image sets it "
               "($GPUOP_PCI_IDS)");
  flags.String("dev-root", &dev_root,
               "the host folder whose dev/ holds the device nodes, as the kubelet sees it: the "
               "host paths Allocate and the CDI specs give ($DEV_ROOT)");
  flags.String("validations-dir", &validations_dir, "where the validator writes vfio-pci-ready");
  flags.Bool("wait-for-vfio-ready", &wait_for_vfio,
             "advertise nothing until vfio-pci-ready exists");
  flags.String("gpu-alias", &alias,
               "resource name of every GPU (nvidia.com/<alias>); empty: one per model "
               "($P_GPU_ALIAS, default pgpu)");
  flags.String("allocate-cdi", &cdi,
               "what Allocate adds beside the device nodes: devices (CDI names), annotations "
               "(cdi.k8s.io/*), both comma-separated, or none ($ALLOCATE_CDI)");
  flags.String("cdi-dir", &cdi_dir,
               "host directory for the CDI spec of each resource (under --host-root); empty: "
               "write none");
  flags.String("resync", &resync_seconds, "seconds between rescans when nothing happened");
  flags.String("metrics-address", &metrics_address,
               "[host]:port serving /metrics, /healthz, /readyz; empty: none");
  flags.String("log-format", &log_format, "text or json ($LOG_FORMAT)");
  if (std::optional<int> exit = flags.ParseOrExit(args, kSummary, out, err)) return *exit;
  common::LogFormat format;
  if (!common::ParseLogFormat(log_format, format)) {
    err << "device-plugin: --log-format is text or json\n";
    return kExitUsage;
  }
  int resync = 0;
  if (!absl::SimpleAtoi(resync_seconds, &resync) || resync < 1) {
    err << "device-plugin: --resync is whole seconds, at least 1\n";
    return kExitUsage;
  }
  operands::GrantOptions grant{
      .cdi_devices = false, .cdi_annotations = false, .dev_root = dev_root};
  if (cdi != "none") {
    for (const std::string& part : std::vector<std::string>(absl::StrSplit(cdi, ','))) {
      if (part == "devices") {
        grant.cdi_devices = true;
      } else if (part == "annotations") {
        grant.cdi_annotations = true;
      } else {
        err << "device-plugin: --allocate-cdi takes devices, annotations or none, not \"" << part
            << "\"\n";
        return kExitUsage;
      }
    }
  }

  common::StopSignal stop;
  StopOnSignals signals(stop);  // Before gRPC's and civetweb's threads start.
  common::Logger log(err, format);
  operands::DevicePluginAgent agent(log, {.root = host::HostRoot(host_root),
                                          .plugin_dir = plugin_dir,
                                          .validations_dir = wait_for_vfio ? validations_dir : "",
                                          .discovery = {.alias = alias},
                                          .grant = grant,
                                          .cdi_dir = cdi_dir,
                                          .pci_ids_fallback = pci_ids,
                                          .resync_period = std::chrono::seconds(resync)});
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<common::MetricsServer> server;
  if (!metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<common::MetricsServer>> started =
        common::MetricsServer::Start(metrics_address, registry);
    if (!started.ok()) {
      err << "device-plugin: " << started.status().message() << "\n";
      return 1;
    }
    server = *std::move(started);
    server->AddCollectable(std::make_shared<operands::DevicePluginMetrics>(agent));
    server->SetReady(true);
  }
  log.Info("device-plugin started", {{"host_root", host_root},
                                     {"plugin_dir", plugin_dir},
                                     {"gpu_alias", alias},
                                     {"allocate_cdi", cdi}});
  agent.Run(stop);
  log.Info("device-plugin stopped");
  return 0;
}

}  // namespace

Subcommand DevicePluginSubcommand() {
  return {"device-plugin", "advertise vfio-bound GPUs to kubelet (node agent)", RunDevicePlugin};
}

}  // namespace gpuop::cli
