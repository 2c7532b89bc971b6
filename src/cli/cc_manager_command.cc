// `gpuop cc-manager`: keeps the node's GPUs in the confidential-computing mode that
// nvidia.com/cc.mode asks for (operands/cc_manager), switching them through gpu-admin-tools.

#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

#include "api/agent_endpoints.h"
#include "cli/dispatcher.h"
#include "cli/flag_parser.h"
#include "cli/signals.h"
#include "cli/subcommands.h"
#include "common/logger.h"
#include "common/metrics_server.h"
#include "kube/event_recorder.h"
#include "kube/rest_client.h"
#include "operands/cc_manager/cc_manager.h"
#include "operands/cc_manager/cc_manager_metrics.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Switches the node's GPUs between confidential-computing modes (on, off, devtools, ppcie)\n"
    "as the node label nvidia.com/cc.mode asks (else --default-cc-mode; off on a host without\n"
    "an enabled TEE), pausing the sandbox operands around the reset, and reports the result in\n"
    "nvidia.com/cc.mode.state, nvidia.com/cc.ready.state and nvidia.com/cc.capable.";

int RunCcManager(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string host_root = EnvOr("HOST_ROOT", "/");
  std::string node_name = EnvOr("NODE_NAME", "");
  // The operator's namespace is the pod's own; NVIDIA's hard-coded "gpu-operator" is only the
  // fallback.
  std::string ns = EnvOr("OPERATOR_NAMESPACE", EnvOr("POD_NAMESPACE", "gpu-operator"));
  std::string kubeconfig;
  std::string default_mode = EnvOr("DEFAULT_CC_MODE", "on");
  std::string evict = EnvOr("EVICT_OPERATOR_COMPONENTS", "true");
  std::string tools = EnvOr("GPU_ADMIN_TOOLS", "python3 /opt/gpu-admin-tools/nvidia_gpu_tools.py");
  std::string tool_timeout = "120";
  std::string eviction_timeout = "300";
  std::string ready_file =
      EnvOr("CC_READINESS_FILE", "/run/nvidia/validations/.cc-manager-ctr-ready");
  std::string metrics_address = api::kAgentMetricsAddress;
  std::string log_format = EnvOr("LOG_FORMAT", "text");
  bool once = false;
  FlagParser flags("cc-manager");
  flags.String("host-root", &host_root, "where the host's / is mounted ($HOST_ROOT)");
  flags.String("node-name", &node_name, "this node ($NODE_NAME)");
  flags.String("namespace", &ns,
               "where the sandbox operands' pods run ($OPERATOR_NAMESPACE, $POD_NAMESPACE)");
  flags.String("kubeconfig", &kubeconfig, "kubeconfig (default: $KUBECONFIG, then in-cluster)");
  flags.String("default-cc-mode", &default_mode,
               "mode without a label: on, off, devtools or ppcie ($DEFAULT_CC_MODE)");
  flags.String("evict-operator-components", &evict,
               "pause the sandbox operands around a switch: true or false "
               "($EVICT_OPERATOR_COMPONENTS)");
  flags.String("gpu-admin-tools", &tools,
               "command that runs nvidia_gpu_tools.py, split on spaces ($GPU_ADMIN_TOOLS)");
  flags.String("tool-timeout", &tool_timeout, "seconds one device's set and reset may take");
  flags.String("eviction-timeout", &eviction_timeout,
               "seconds to wait for the paused operands' pods to leave (then a Warning)");
  flags.String("ready-file", &ready_file, "written after the first apply ($CC_READINESS_FILE)");
  flags.String("metrics-address", &metrics_address, "[host]:port for /metrics, /healthz, /readyz");
  flags.String("log-format", &log_format, "text or json ($LOG_FORMAT)");
  flags.Bool("once", &once, "apply once, then exit: 0 when the state is not failed");
  if (std::optional<int> exit = flags.ParseOrExit(args, kSummary, out, err)) return *exit;
  common::LogFormat format;
  if (!common::ParseLogFormat(log_format, format)) {
    err << "cc-manager: --log-format is text or json\n";
    return kExitUsage;
  }
  int tool_seconds = 0, eviction_seconds = 0;
  if (!absl::SimpleAtoi(tool_timeout, &tool_seconds) || tool_seconds < 1 ||
      !absl::SimpleAtoi(eviction_timeout, &eviction_seconds) || eviction_seconds < 0) {
    err << "cc-manager: --tool-timeout and --eviction-timeout are whole seconds\n";
    return kExitUsage;
  }
  if (node_name.empty()) {
    err << "cc-manager: --node-name ($NODE_NAME) is required: the labels are this node's\n";
    return kExitUsage;
  }
  // Checked here so a typo in the ClusterPolicy shows at start; a bad label is the node's
  // state (failed + Event), not the agent's.
  if (!operands::ParseTargetMode(default_mode).ok()) {
    err << "cc-manager: --default-cc-mode is on, off, devtools or ppcie, not \"" << default_mode
        << "\"\n";
    return kExitUsage;
  }
  common::Logger log(err, format);
  absl::StatusOr<std::unique_ptr<kube::RestClient>> client =
      kube::ConnectToApiServer({.kubeconfig = kubeconfig});
  if (!client.ok()) {
    log.Error("cannot reach the Kubernetes API",
              {{"error", std::string(client.status().message())}});
    return 1;
  }
  kube::EventRecorder recorder(**client, "gpuop.io/cc-manager", EnvOr("POD_NAME", node_name));

  auto registry = std::make_shared<prometheus::Registry>();
  operands::CcManagerMetrics metrics(*registry);
  std::unique_ptr<common::MetricsServer> server;
  if (!once && !metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<common::MetricsServer>> started =
        common::MetricsServer::Start(metrics_address, registry);
    if (!started.ok()) {
      err << "cc-manager: " << started.status().message() << "\n";
      return 1;
    }
    server = *std::move(started);
  }
  operands::CcManagerOptions options{
      .root = host::HostRoot(host_root),
      .node_name = node_name,
      .ns = ns,
      .default_mode = default_mode,
      .evict_operands = evict == "true" || evict == "True" || evict == "TRUE",
      .tools = {.command = absl::StrSplit(tools, ' ', absl::SkipEmpty()),
                .timeout = std::chrono::seconds(tool_seconds)},
      .eviction_timeout = std::chrono::seconds(eviction_seconds),
      .ready_file = ready_file};
  operands::CcManager manager(**client, recorder, options, log,
                              [&](const operands::ApplyResult& result) {
                                metrics.Observe(result);
                                if (server) server->SetReady(true, "");
                              });
  log.Info("cc-manager started",
           {{"node", node_name},
            {"namespace", ns},
            {"default_mode", default_mode},
            {"host_tee", operands::HostTeeEnabled(options.root) ? "yes" : "no"}});
  common::StopSignal stop;
  StopOnSignals signals(stop);
  if (once) {
    absl::StatusOr<nlohmann::json> node = (*client)->Get(kube::resources::kNodes, "", node_name);
    if (!node.ok()) {
      // Without the label the default would be applied, which may not be what the node asks.
      log.Error("cannot read this node's nvidia.com/cc.mode; nothing changed",
                {{"node", node_name}, {"error", std::string(node.status().message())}});
      return 1;
    }
    std::optional<std::string> label;
    const nlohmann::json labels = (*node)["metadata"].value("labels", nlohmann::json::object());
    if (labels.contains(operands::kCcModeLabel) && labels[operands::kCcModeLabel].is_string()) {
      label = labels[operands::kCcModeLabel].get<std::string>();
    }
    const operands::ApplyResult result = manager.Apply(label, stop);
    return result.state == "failed" || !result.error.empty() ? 1 : 0;
  }
  const int code = manager.Run(stop);
  log.Info("cc-manager stopped");
  return code;
}

}  // namespace

Subcommand CcManagerSubcommand() {
  return {"cc-manager", "switch GPUs between confidential-computing modes (node agent)",
          RunCcManager};
}

}  // namespace gpuop::cli
