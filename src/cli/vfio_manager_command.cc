// `gpuop vfio-manager`: the VFIO manager node agent (operands/vfio_manager).

#include <iostream>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "api/agent_endpoints.h"
#include "api/paths.h"
#include "cli/dispatcher.h"
#include "cli/flag_parser.h"
#include "cli/signals.h"
#include "cli/subcommands.h"
#include "common/logger.h"
#include "common/metrics_server.h"
#include "host/host_kernel.h"
#include "kube/event_recorder.h"
#include "kube/rest_client.h"
#include "operands/vfio_manager/node_reporter.h"
#include "operands/vfio_manager/vfio_manager.h"
#include "operands/vfio_manager/vfio_manager_metrics.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Binds every NVIDIA GPU, and the other functions of its IOMMU group, to vfio-pci (or the\n"
    "vfio variant driver modules.alias names), keeps them bound as GPUs come and go, and writes\n"
    "vfio-pci-ready. GPUs already on a vfio driver are never touched.";

// The Event reporter when this agent knows its node and can reach the API; nullptr otherwise,
// said in the log (binding GPUs matters more than telling about it).
struct NodeReporting {
  std::unique_ptr<kube::RestClient> client;
  std::unique_ptr<kube::EventRecorder> recorder;
  std::unique_ptr<operands::VfioNodeReporter> reporter;
};
NodeReporting StartNodeReporting(const std::string& node_name, const std::string& kubeconfig,
                                 common::Logger& log) {
  NodeReporting reporting;
  if (node_name.empty()) {
    log.Info("no --node-name ($NODE_NAME): problems go to the log only, not to Node events");
    return reporting;
  }
  absl::StatusOr<std::unique_ptr<kube::RestClient>> client =
      kube::ConnectToApiServer({.kubeconfig = kubeconfig});
  if (!client.ok()) {
    log.Error("cannot reach the Kubernetes API: problems go to the log only",
              {{"node", node_name}, {"error", std::string(client.status().message())}});
    return reporting;
  }
  reporting.client = *std::move(client);
  reporting.recorder = std::make_unique<kube::EventRecorder>(
      *reporting.client, "gpuop.io/vfio-manager", EnvOr("POD_NAME", node_name));
  reporting.reporter = std::make_unique<operands::VfioNodeReporter>(
      *reporting.client, *reporting.recorder, node_name, log);
  return reporting;
}

int RunVfioManager(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string host_root = EnvOr("HOST_ROOT", "/");
  std::string vendor = "10de";
  std::string validations_dir = api::kValidationsDir;
  std::string log_format = "text";
  bool include_nvswitches = EnvOr("BIND_NVSWITCHES", "false") == "true";
  bool once = false;
  bool unbind_on_exit = false;
  std::string state_file = api::kVfioManagerStateFile;
  std::string metrics_address = api::kAgentMetricsAddress;
  std::string node_name = EnvOr("NODE_NAME", "");
  std::string kubeconfig;
  FlagParser flags("vfio-manager");
  flags.String("host-root", &host_root, "where the host's / is mounted ($HOST_ROOT)");
  flags.String("vendor", &vendor, "PCI vendor id of the devices to bind, hex");
  flags.Bool("include-nvswitches", &include_nvswitches, "bind NVSwitches too ($BIND_NVSWITCHES)");
  flags.String("validations-dir", &validations_dir, "where vfio-pci-ready is written");
  flags.Bool("once", &once, "bind, then exit: 0 when everything is bound, 1 otherwise");
  flags.Bool("unbind-on-exit", &unbind_on_exit,
             "on SIGTERM, give the devices this run bound back to their previous drivers");
  flags.String("state-file", &state_file,
               "remembers the previous drivers across restarts, for --unbind-on-exit");
  flags.String("metrics-address", &metrics_address,
               "[host]:port serving /metrics, /healthz, /readyz; empty: none");
  flags.String("node-name", &node_name, "this node, for Warning events on it ($NODE_NAME)");
  flags.String("kubeconfig", &kubeconfig,
               "kubeconfig for the events (default: $KUBECONFIG, then in-cluster)");
  flags.String("log-format", &log_format, "text or json");
  if (std::optional<int> exit = flags.ParseOrExit(args, kSummary, out, err)) return *exit;
  uint32_t vendor_id = 0;
  common::LogFormat format;
  if (!absl::SimpleHexAtoi(vendor, &vendor_id) || vendor_id > 0xffff) {
    err << "vfio-manager: --vendor is a 16-bit hex id like 10de, not \"" << vendor << "\"\n";
    return kExitUsage;
  }
  if (!common::ParseLogFormat(log_format, format)) {
    err << "vfio-manager: --log-format is text or json\n";
    return kExitUsage;
  }

  common::Logger log(err, format);
  // Before any thread starts (HostKernel's writers, civetweb's, curl's), so none of them can
  // take a SIGTERM and die of it.
  common::StopSignal stop;
  std::optional<StopOnSignals> signals;
  if (!once) signals.emplace(stop);
  const host::HostRoot root(host_root);
  host::HostKernel kernel(root);
  operands::VfioManager manager(root, kernel,
                                {.selection = {.vendor = static_cast<uint16_t>(vendor_id),
                                               .include_nvswitches = include_nvswitches},
                                 .validations_dir = validations_dir,
                                 .unbind_on_exit = unbind_on_exit,
                                 .state_file = state_file},
                                log);
  NodeReporting reporting = StartNodeReporting(node_name, kubeconfig, log);
  if (reporting.reporter) {
    manager.AddObserver(
        [&](const operands::VfioPassReport& report) { reporting.reporter->Report(report); });
  }
  if (once) return manager.BindAll().AllBound() ? 0 : 1;

  auto registry = std::make_shared<prometheus::Registry>();
  operands::VfioManagerMetrics metrics(*registry);
  std::unique_ptr<common::MetricsServer> server;
  if (!metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<common::MetricsServer>> started =
        common::MetricsServer::Start(metrics_address, registry);
    if (!started.ok()) {
      err << "vfio-manager: " << started.status().message() << "\n";
      return 1;
    }
    server = *std::move(started);
  }
  manager.AddObserver([&](const operands::VfioPassReport& report) {
    metrics.Observe(report);
    if (server) server->SetReady(report.Ready(), report.NotReadyReason());
  });

  log.Info("vfio-manager started", {{"host_root", host_root},
                                    {"vendor", vendor},
                                    {"metrics", metrics_address},
                                    {"node", node_name}});
  return manager.Run(stop);
}

}  // namespace

Subcommand VfioManagerSubcommand() {
  return {"vfio-manager", "bind GPUs to vfio-pci and keep them there (node agent)", RunVfioManager};
}

}  // namespace gpuop::cli
