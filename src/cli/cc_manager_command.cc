// `gpuop cc-manager`: the flags of the CC manager node agent (operands/cc_manager), which keeps
// the node's GPUs in the confidential-computing mode that nvidia.com/cc.mode asks for, switching
// them through gpu-admin-tools.

#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "api/cc_mode.h"
#include "api/event_reporters.h"
#include "api/paths.h"
#include "cli/agent_main.h"
#include "cli/subcommands.h"
#include "operands/cc_manager/cc_manager.h"
#include "operands/cc_manager/cc_manager_metrics.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Switches the node's GPUs between confidential-computing modes (on, off, devtools, ppcie)\n"
    "as the node label nvidia.com/cc.mode asks (else --default-cc-mode; off on a host without\n"
    "an enabled TEE), pausing the sandbox operands around the reset, and reports the result in\n"
    "nvidia.com/cc.mode.state, nvidia.com/cc.ready.state and nvidia.com/cc.capable.";

struct CcFlags {
  // The operator's namespace is the pod's own; NVIDIA's hard-coded "gpu-operator" is only the
  // fallback.
  std::string ns = EnvOr("OPERATOR_NAMESPACE", EnvOr("POD_NAMESPACE", "gpu-operator"));
  std::string default_mode =
      EnvOr("DEFAULT_CC_MODE", std::string(api::CcModeName(api::CcMode::kOn)));
  std::string evict = EnvOr("EVICT_OPERATOR_COMPONENTS", "true");
  std::string tools = EnvOr("GPU_ADMIN_TOOLS", "python3 /opt/gpu-admin-tools/nvidia_gpu_tools.py");
  const int* tool_seconds = nullptr;
  const int* eviction_seconds = nullptr;
  std::string ready_file = EnvOr(
      "CC_READINESS_FILE", absl::StrCat(api::kValidationsDir, "/", api::kCcManagerCtrReadyFile));
  bool once = false;
};

void DeclareFlags(AgentMain& main, CcFlags& flags) {
  FlagParser& parser = main.Flags();
  constexpr char kTimeouts[] = "--tool-timeout and --eviction-timeout are whole seconds";
  main.HostRootFlag();
  main.NodeNameFlag("this node ($NODE_NAME)");
  parser.String("namespace", &flags.ns,
                "where the sandbox operands' pods run ($OPERATOR_NAMESPACE, $POD_NAMESPACE)");
  main.KubeconfigFlag();
  parser.String("default-cc-mode", &flags.default_mode,
                "mode without a label: on, off, devtools or ppcie ($DEFAULT_CC_MODE)");
  parser.String("evict-operator-components", &flags.evict,
                "pause the sandbox operands around a switch: true or false "
                "($EVICT_OPERATOR_COMPONENTS)");
  parser.String("gpu-admin-tools", &flags.tools,
                "command that runs nvidia_gpu_tools.py, split on spaces ($GPU_ADMIN_TOOLS)");
  flags.tool_seconds = &main.SecondsFlag(
      "tool-timeout", 120, "seconds one device's set and reset may take", kTimeouts, 1);
  flags.eviction_seconds = &main.SecondsFlag(
      "eviction-timeout", 300,
      "seconds to wait for the paused operands' pods to leave (then a Warning)", kTimeouts);
  parser.String("ready-file", &flags.ready_file,
                "written after the first apply ($CC_READINESS_FILE)");
  main.MetricsAddressFlag("[host]:port for /metrics, /healthz, /readyz");
  main.LogFormatFlag("text or json ($LOG_FORMAT)");
  parser.Bool("once", &flags.once, "apply once, then exit: 0 when the state is not failed");
}

operands::CcManagerOptions ManagerOptions(const AgentMain& main, const CcFlags& flags) {
  return {.root = host::HostRoot(main.HostRoot()),
          .node_name = main.NodeName(),
          .ns = flags.ns,
          .default_mode = flags.default_mode,
          .evict_operands = flags.evict == "true" || flags.evict == "True" || flags.evict == "TRUE",
          .tools = {.command = absl::StrSplit(flags.tools, ' ', absl::SkipEmpty()),
                    .timeout = std::chrono::seconds(*flags.tool_seconds)},
          .eviction_timeout = std::chrono::seconds(*flags.eviction_seconds),
          .ready_file = flags.ready_file};
}

int RunCcManager(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("cc-manager", kSummary, out, err);
  CcFlags flags;
  DeclareFlags(main, flags);
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  if (main.NodeName().empty()) {
    return main.UsageError("--node-name ($NODE_NAME) is required: the labels are this node's");
  }
  // Checked here so a typo in the ClusterPolicy shows at start; a bad label is the node's
  // state (failed + Event), not the agent's.
  if (!api::ParseCcMode(flags.default_mode).ok()) {
    return main.UsageError(absl::StrCat("--default-cc-mode is on, off, devtools or ppcie, not \"",
                                        flags.default_mode, "\""));
  }
  common::Logger& log = main.Log();
  absl::StatusOr<AgentMain::NodeApi> api = main.ReportAs(api::kCcManagerReporter);
  if (!api.ok()) {
    log.Error("cannot reach the Kubernetes API", {{"error", std::string(api.status().message())}});
    return 1;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  operands::CcManagerMetrics metrics(*registry);
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> server =
      main.ServeMetrics(registry, /*serve=*/!flags.once);
  if (!server.ok()) return main.Failure(server.status().message());
  const operands::CcManagerOptions options = ManagerOptions(main, flags);
  operands::CcManager manager(*api->client, *api->events, options, log,
                              [&](const operands::ApplyResult& result) {
                                metrics.Observe(result);
                                if (*server) (*server)->SetReady(true, "");
                              });
  log.Info("cc-manager started",
           {{"node", options.node_name},
            {"namespace", options.ns},
            {"default_mode", options.default_mode},
            {"host_tee", operands::HostTeeEnabled(options.root) ? "yes" : "no"}});
  main.CatchSignals();
  if (flags.once) return manager.RunOnce(main.Stop());
  const int code = manager.Run(main.Stop());
  log.Info("cc-manager stopped");
  return code;
}

}  // namespace

Subcommand CcManagerSubcommand() {
  return {"cc-manager", "switch GPUs between confidential-computing modes (node agent)",
          RunCcManager};
}

}  // namespace gpuop::cli
