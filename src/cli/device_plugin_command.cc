// `gpuop device-plugin`: the flags of the sandbox device plugin node agent
// (operands/device_plugin).

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "api/labels.h"
#include "api/paths.h"
#include "cli/agent_main.h"
#include "cli/subcommands.h"
#include "operands/device_plugin/device_plugin_agent.h"
#include "operands/device_plugin/device_plugin_metrics.h"
#include "operands/device_plugin/leaving_node.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Advertises the node's vfio-bound GPUs to kubelet (device plugin API v1beta1) as\n"
    "nvidia.com/pgpu, or one resource per model, with IDs that are the CDI device names Kata's\n"
    "cold-plug looks up; hands out /dev/vfio nodes and CDI names in Allocate, and turns a GPU\n"
    "Unhealthy the moment it leaves vfio or its device node goes. The CDI specs it writes\n"
    "outlive a restart and go when the node's deploy label does (--node-name).";

struct PluginFlags {
  std::string plugin_dir = "/var/lib/kubelet/device-plugins";
  std::string pci_ids = EnvOr("GPUOP_PCI_IDS", "");
  std::string dev_root = EnvOr("DEV_ROOT", "/");
  std::string validations_dir = api::kValidationsDir;
  bool wait_for_vfio = true;
  // NVIDIA's plugin: P_GPU_ALIAS unset means "pgpu"; set but empty means one resource per model.
  std::string alias = [] {
    const char* alias = std::getenv("P_GPU_ALIAS");  // NOLINT(concurrency-mt-unsafe): at start.
    return alias == nullptr ? std::string("pgpu") : std::string(alias);
  }();
  std::string cdi = EnvOr("ALLOCATE_CDI", "devices,annotations");
  std::string cdi_dir = api::kCdiSpecDir;
  const int* resync = nullptr;
};

void DeclareFlags(AgentMain& main, PluginFlags& flags) {
  FlagParser& parser = main.Flags();
  main.HostRootFlag();
  parser.String("plugin-dir", &flags.plugin_dir, "kubelet's device-plugins directory");
  parser.String("pci-ids", &flags.pci_ids,
                "a pci.ids in this container for hosts without one; the image sets it "
                "($GPUOP_PCI_IDS)");
  parser.String("dev-root", &flags.dev_root,
                "the host folder whose dev/ holds the device nodes, as the kubelet sees it: the "
                "host paths Allocate and the CDI specs give ($DEV_ROOT)");
  parser.String("validations-dir", &flags.validations_dir,
                "where the validator writes vfio-pci-ready");
  parser.Bool("wait-for-vfio-ready", &flags.wait_for_vfio,
              "advertise nothing until vfio-pci-ready exists");
  parser.String("gpu-alias", &flags.alias,
                "resource name of every GPU (nvidia.com/<alias>); empty: one per model "
                "($P_GPU_ALIAS, default pgpu)");
  parser.String("allocate-cdi", &flags.cdi,
                "what Allocate adds beside the device nodes: devices (CDI names), annotations "
                "(cdi.k8s.io/*), both comma-separated, or none ($ALLOCATE_CDI)");
  parser.String("cdi-dir", &flags.cdi_dir,
                "host directory for the CDI spec of each resource (under --host-root); empty: "
                "write none");
  flags.resync = &main.SecondsFlag("resync", 30, "seconds between rescans when nothing happened",
                                   "--resync is whole seconds, at least 1", 1);
  main.NodeNameFlag(
      "this node: at stop its deploy label tells a restart (the CDI specs stay) from leaving "
      "the node (they go); empty: they stay ($NODE_NAME)");
  main.KubeconfigFlag();
  main.MetricsAddressFlag("[host]:port serving /metrics, /healthz, /readyz; empty: none");
  main.LogFormatFlag("text or json ($LOG_FORMAT)");
}

// --allocate-cdi as what Allocate grants; the error names the word it does not know.
absl::StatusOr<operands::GrantOptions> ParseGrant(const PluginFlags& flags) {
  operands::GrantOptions grant{
      .cdi_devices = false, .cdi_annotations = false, .dev_root = flags.dev_root};
  if (flags.cdi == "none") return grant;
  for (const std::string& part : std::vector<std::string>(absl::StrSplit(flags.cdi, ','))) {
    if (part == "devices") {
      grant.cdi_devices = true;
    } else if (part == "annotations") {
      grant.cdi_annotations = true;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--allocate-cdi takes devices, annotations or none, not \"", part, "\""));
    }
  }
  return grant;
}

int RunDevicePlugin(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("device-plugin", kSummary, out, err);
  PluginFlags flags;
  DeclareFlags(main, flags);
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  absl::StatusOr<operands::GrantOptions> grant = ParseGrant(flags);
  if (!grant.ok()) return main.UsageError(grant.status().message());
  main.CatchSignals();  // Before gRPC's and civetweb's threads start.
  common::Logger& log = main.Log();
  operands::DevicePluginAgent agent(
      log, {.root = host::HostRoot(main.HostRoot()),
            .plugin_dir = flags.plugin_dir,
            .validations_dir = flags.wait_for_vfio ? flags.validations_dir : "",
            .discovery = {.alias = flags.alias},
            .grant = *grant,
            .cdi_dir = flags.cdi_dir,
            .pci_ids_fallback = flags.pci_ids,
            .resync_period = std::chrono::seconds(*flags.resync)});
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> server =
      main.ServeMetrics(std::make_shared<prometheus::Registry>());
  if (!server.ok()) return main.Failure(server.status().message());
  if (*server) {
    (*server)->AddCollectable(std::make_shared<operands::DevicePluginMetrics>(agent));
    (*server)->SetReady(true);
  }
  log.Info("device-plugin started", {{"host_root", main.HostRoot()},
                                     {"plugin_dir", flags.plugin_dir},
                                     {"gpu_alias", flags.alias},
                                     {"allocate_cdi", flags.cdi}});
  agent.Run(main.Stop());
  operands::SettleCdiSpecs(
      agent, main.NodeName(),
      [&] { return main.StillDeployedHere(api::operand::kKataSandboxDevicePlugin); }, log);
  log.Info("device-plugin stopped");
  return 0;
}

}  // namespace

Subcommand DevicePluginSubcommand() {
  return {"device-plugin", "advertise vfio-bound GPUs to kubelet (node agent)", RunDevicePlugin};
}

}  // namespace gpuop::cli
