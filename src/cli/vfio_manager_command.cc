// `gpuop vfio-manager`: the flags of the VFIO manager node agent (operands/vfio_manager).

#include <iostream>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "api/event_reporters.h"
#include "api/labels.h"
#include "api/paths.h"
#include "cli/agent_main.h"
#include "cli/subcommands.h"
#include "host/host_kernel.h"
#include "operands/vfio_manager/node_reporter.h"
#include "operands/vfio_manager/vfio_manager.h"
#include "operands/vfio_manager/vfio_manager_metrics.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Binds every NVIDIA GPU, and the other functions of its IOMMU group, to vfio-pci (or the\n"
    "vfio variant driver modules.alias names), keeps them bound as GPUs come and go, and writes\n"
    "vfio-pci-ready. GPUs already on a vfio driver are never touched.";

struct VfioFlags {
  std::string vendor = "10de";
  bool include_nvswitches = EnvOr("BIND_NVSWITCHES", "false") == "true";
  std::string validations_dir = api::kValidationsDir;
  bool once = false;
  bool unbind_on_exit = false;
  std::string state_file = api::kVfioManagerStateFile;
};

void DeclareFlags(AgentMain& main, VfioFlags& flags) {
  FlagParser& parser = main.Flags();
  main.HostRootFlag();
  parser.String("vendor", &flags.vendor, "PCI vendor id of the devices to bind, hex");
  parser.Bool("include-nvswitches", &flags.include_nvswitches,
              "bind NVSwitches too ($BIND_NVSWITCHES)");
  parser.String("validations-dir", &flags.validations_dir, "where vfio-pci-ready is written");
  parser.Bool("once", &flags.once, "bind, then exit: 0 when everything is bound, 1 otherwise");
  parser.Bool("unbind-on-exit", &flags.unbind_on_exit,
              "on SIGTERM, give the devices this run bound back to their previous drivers");
  parser.String("state-file", &flags.state_file,
                "remembers the previous drivers across restarts, for --unbind-on-exit");
  main.MetricsAddressFlag("[host]:port serving /metrics, /healthz, /readyz; empty: none");
  main.NodeNameFlag("this node, for Warning events on it ($NODE_NAME)");
  main.KubeconfigFlag("kubeconfig for the events");
  main.LogFormatFlag("text or json", "text", /*env=*/nullptr);
}

// The Event reporter when this agent knows its node and can reach the API; nullptr otherwise,
// said in the log (binding GPUs matters more than telling about it).
std::unique_ptr<operands::VfioNodeReporter> ConnectToNode(AgentMain& main) {
  common::Logger& log = main.Log();
  if (main.NodeName().empty()) {
    log.Info("no --node-name ($NODE_NAME): problems go to the log only, not to Node events");
    return nullptr;
  }
  absl::StatusOr<AgentMain::NodeApi> api = main.ReportAs(api::kVfioManagerReporter);
  if (!api.ok()) {
    log.Error("cannot reach the Kubernetes API: problems go to the log only",
              {{"node", main.NodeName()}, {"error", std::string(api.status().message())}});
    return nullptr;
  }
  return std::make_unique<operands::VfioNodeReporter>(*api->client, *api->events, main.NodeName(),
                                                      log);
}

int RunVfioManager(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("vfio-manager", kSummary, out, err);
  VfioFlags flags;
  DeclareFlags(main, flags);
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  uint32_t vendor_id = 0;
  if (!absl::SimpleHexAtoi(flags.vendor, &vendor_id) || vendor_id > 0xffff) {
    return main.UsageError(
        absl::StrCat("--vendor is a 16-bit hex id like 10de, not \"", flags.vendor, "\""));
  }
  common::Logger& log = main.Log();
  // Before any thread starts (HostKernel's writers, civetweb's, curl's), so none of them can
  // take a SIGTERM and die of it.
  if (!flags.once) main.CatchSignals();
  const host::HostRoot root(main.HostRoot());
  host::HostKernel kernel(root);
  operands::VfioManagerOptions options{
      .selection = {.vendor = static_cast<uint16_t>(vendor_id),
                    .include_nvswitches = flags.include_nvswitches},
      .validations_dir = flags.validations_dir,
      .unbind_on_exit = flags.unbind_on_exit,
      .state_file = flags.state_file};
  std::unique_ptr<operands::VfioNodeReporter> reporter = ConnectToNode(main);
  if (reporter) {
    // The operator sets the driver's deploy label (held, api::kWaitingForGpuHandOver) before
    // it takes ours away when the node moves to the container path; at helm uninstall or a
    // restart there is none, and the GPUs stay where running VMs need them.
    options.give_back_at_stop = [&main, &log] {
      absl::StatusOr<std::string> driver =
          main.NodeLabel(api::DeployLabelOf(api::operand::kDriver));
      if (!driver.ok()) {
        log.Warn("cannot read this node's driver deploy label: the GPUs stay on vfio",
                 {{"error", std::string(driver.status().message())}});
        return false;
      }
      return !driver->empty();
    };
  }
  operands::VfioManager manager(root, kernel, std::move(options), log);
  if (reporter) {
    manager.AddObserver([&](const operands::VfioPassReport& report) { reporter->Report(report); });
  }
  if (flags.once) return manager.BindAll().AllBound() ? 0 : 1;

  auto registry = std::make_shared<prometheus::Registry>();
  operands::VfioManagerMetrics metrics(*registry);
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> server = main.ServeMetrics(registry);
  if (!server.ok()) return main.Failure(server.status().message());
  manager.AddObserver([&](const operands::VfioPassReport& report) {
    metrics.Observe(report);
    if (*server) (*server)->SetReady(report.Ready(), report.NotReadyReason());
  });
  log.Info("vfio-manager started", {{"host_root", main.HostRoot()},
                                    {"vendor", flags.vendor},
                                    {"metrics", main.MetricsAddress()},
                                    {"node", main.NodeName()}});
  return manager.Run(main.Stop());
}

}  // namespace

Subcommand VfioManagerSubcommand() {
  return {"vfio-manager", "bind GPUs to vfio-pci and keep them there (node agent)", RunVfioManager};
}

}  // namespace gpuop::cli
