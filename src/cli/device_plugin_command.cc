// `gpuop device-plugin`: the sandbox device plugin node agent (operands/device_plugin).

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

#include "api/agent_endpoints.h"
#include "api/labels.h"
#include "api/paths.h"
#include "cli/dispatcher.h"
#include "cli/flag_parser.h"
#include "cli/signals.h"
#include "cli/subcommands.h"
#include "common/logger.h"
#include "common/metrics_server.h"
#include "kube/json_fields.h"
#include "kube/rest_client.h"
#include "operands/device_plugin/device_plugin_agent.h"
#include "operands/device_plugin/device_plugin_metrics.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Advertises the node's vfio-bound GPUs to kubelet (device plugin API v1beta1) as\n"
    "nvidia.com/pgpu, or one resource per model, with IDs that are the CDI device names Kata's\n"
    "cold-plug looks up; hands out /dev/vfio nodes and CDI names in Allocate, and turns a GPU\n"
    "Unhealthy the moment it leaves vfio or its device node goes. The CDI specs it writes\n"
    "outlive a restart and go when the node's deploy label does (--node-name).";

// The deploy label the operator routes this plugin by (state-kata-device-plugin).
std::string DeployLabel() {
  return std::string(api::kDeployLabelPrefix) + api::operand::kKataSandboxDevicePlugin;
}

// Whether the node still wants the plugin, from its deploy label; an error when the API cannot
// say, and the caller must not guess (the CDI spec would go from under running pods).
absl::StatusOr<bool> StillDeployedHere(const std::string& node_name,
                                       const std::string& kubeconfig) {
  absl::StatusOr<std::unique_ptr<kube::RestClient>> client =
      kube::ConnectToApiServer({.kubeconfig = kubeconfig});
  if (!client.ok()) return client.status();
  absl::StatusOr<kube::json> node = (*client)->Get(kube::resources::kNodes, "", node_name);
  if (!node.ok()) return node.status();
  const std::string label = DeployLabel();
  return api::DeployLabelKeepsOperand(kube::StringField(
      kube::ObjectField(kube::ObjectField(*node, "metadata"), "labels"), label.c_str()));
}

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
  std::string node_name = EnvOr("NODE_NAME", "");
  std::string kubeconfig;
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
  flags.String("node-name", &node_name,
               "this node: at stop its deploy label tells a restart (the CDI specs stay) from "
               "leaving the node (they go); empty: they stay ($NODE_NAME)");
  flags.String("kubeconfig", &kubeconfig, "kubeconfig (default: $KUBECONFIG, then in-cluster)");
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
  // Taken off the node (its deploy label gone: helm uninstall, a workload change) rather than
  // restarted (a rollout, a crash, a CC mode switch's pause): the CDI specs go with it. Asked at
  // stop, when the operator or the uninstall has already changed the label that stopped us.
  if (node_name.empty()) {
    log.Info("no --node-name ($NODE_NAME): the CDI specs are kept, as on a restart");
  } else if (absl::StatusOr<bool> deployed = StillDeployedHere(node_name, kubeconfig);
             !deployed.ok()) {
    log.Warn("cannot read the node's deploy label: the CDI specs are kept",
             {{"node", node_name}, {"error", std::string(deployed.status().message())}});
  } else if (!*deployed) {
    log.Info("no longer deployed on this node: removing the CDI specs",
             {{"node", node_name}, {"label", DeployLabel()}});
    agent.RemoveCdiSpecs();
  } else {
    log.Info("still deployed on this node: the CDI specs are kept for its Kata pods",
             {{"node", node_name}});
  }
  log.Info("device-plugin stopped");
  return 0;
}

}  // namespace

Subcommand DevicePluginSubcommand() {
  return {"device-plugin", "advertise vfio-bound GPUs to kubelet (node agent)", RunDevicePlugin};
}

}  // namespace gpuop::cli
