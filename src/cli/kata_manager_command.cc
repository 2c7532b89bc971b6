// `gpuop kata-manager`: the flags of the Kata manager node agent
// (operands/kata_manager/kata_manager_agent.h), which installs the Kata artifacts of the node's
// runtime classes, registers their containerd handlers and keeps them current.

#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "api/event_reporters.h"
#include "api/paths.h"
#include "cli/agent_main.h"
#include "cli/subcommands.h"
#include "common/files.h"
#include "oci/manifest.h"
#include "operands/kata_manager/containerd_target.h"
#include "operands/kata_manager/kata_manager_agent.h"
#include "operands/kata_manager/kata_manager_metrics.h"
#include "operands/kata_manager/kata_node_reporter.h"

namespace gpuop::cli {
namespace {

constexpr char kSummary[] =
    "Pulls the Kata artifacts (guest kernel, image, configuration) of each runtime class in\n"
    "its config that applies to this node from an OCI registry, installs them under\n"
    "<artifactsDir>/<runtime class>/, and registers one containerd runtime handler per class\n"
    "through a drop-in that the main containerd config imports. --cleanup takes out exactly\n"
    "what it added to containerd's config.";

struct KataFlags {
  std::string config_file = EnvOr("CONFIG_FILE", "/etc/kata-manager/config.yaml");
  std::string ns = EnvOr("POD_NAMESPACE", "");
  std::string validations_dir = api::kValidationsDir;
  operands::ContainerdOverrides containerd{.distribution = EnvOr("CONTAINERD_DISTRIBUTION", "auto"),
                                           .config = EnvOr("CONTAINERD_CONFIG", ""),
                                           .socket = EnvOr("CONTAINERD_SOCKET", ""),
                                           .restart = EnvOr("CONTAINERD_RESTART", "auto"),
                                           .systemd_bus = EnvOr("SYSTEMD_BUS", "")};
  std::string containerd_version;
  std::string plain_http;
  std::string ca_file;
  const int* resync = nullptr;
  bool once = false;
  bool cleanup = false;
};

void DeclareFlags(AgentMain& main, KataFlags& flags) {
  FlagParser& parser = main.Flags();
  parser.String("config", &flags.config_file, "the kata manager config YAML ($CONFIG_FILE)");
  main.HostRootFlag();
  main.NodeNameFlag("this node: its labels pick the runtime classes ($NODE_NAME)");
  parser.String("namespace", &flags.ns, "where the pull secrets are ($POD_NAMESPACE)");
  main.KubeconfigFlag();
  parser.String("validations-dir", &flags.validations_dir, "host directory for the ready-file");
  parser.String("containerd-distribution", &flags.containerd.distribution,
                "whose containerd the node runs: containerd, k3s, rke2, k0s, microk8s, or auto "
                "(told by their files on the host) ($CONTAINERD_DISTRIBUTION)");
  parser.String("containerd-config", &flags.containerd.config,
                "host path of containerd's main config (default: the distribution's) "
                "($CONTAINERD_CONFIG)");
  parser.String("containerd-drop-in", &flags.containerd.drop_in,
                "host path of gpuop's drop-in (default: the distribution's)");
  parser.String("containerd-version", &flags.containerd_version,
                "the node's containerd release (1.7, 2.1); default: ask the host's containerd");
  parser.String("containerd-restart", &flags.containerd.restart,
                "after a change: systemd (its D-Bus API restarts the distribution's unit), "
                "signal (SIGTERM; its supervisor starts it again), auto (systemd if the host "
                "booted with it, else signal; nothing on k0s, which restarts it itself) or none "
                "($CONTAINERD_RESTART)");
  parser.String("containerd-socket", &flags.containerd.socket,
                "host path of containerd's socket (default: the distribution's) "
                "($CONTAINERD_SOCKET)");
  parser.String("systemd-bus", &flags.containerd.systemd_bus,
                "D-Bus address of systemd (default: the host's system bus under --host-root) "
                "($SYSTEMD_BUS)");
  parser.String("plain-http-registries", &flags.plain_http,
                "registries reached over plain HTTP, comma-separated (loopback test registries)");
  parser.String("registry-ca-file", &flags.ca_file, "PEM file of CAs to trust for registries");
  flags.resync = &main.SecondsFlag("resync", 300, "seconds between passes when nothing changes",
                                   "--resync is whole seconds, at least 1", 1);
  main.MetricsAddressFlag("[host]:port for /metrics, /healthz, /readyz");
  main.LogFormatFlag("text or json ($LOG_FORMAT)");
  parser.Bool("once", &flags.once, "one pass, then exit: 0 when everything applied, 1 otherwise");
  parser.Bool("cleanup", &flags.cleanup,
              "take gpuop's handlers out of containerd's config, then exit");
}

// The agent's Node through the API, or nullptr (said in the log): then every runtime class
// applies, there are no pull secrets, and problems go to the log only.
std::unique_ptr<operands::KataNodeReporter> ConnectToNode(AgentMain& main, const std::string& ns) {
  common::Logger& log = main.Log();
  if (main.NodeName().empty()) {
    log.Info(
        "no --node-name ($NODE_NAME): every runtime class applies, no pull secrets, "
        "problems go to the log only");
    return nullptr;
  }
  absl::StatusOr<AgentMain::NodeApi> api = main.ReportAs(api::kKataManagerReporter);
  if (!api.ok()) {
    log.Error("cannot reach the Kubernetes API", {{"error", std::string(api.status().message())}});
    return nullptr;
  }
  return std::make_unique<operands::KataNodeReporter>(*api->client, *api->events, main.NodeName(),
                                                      ns, log);
}

// The agent's options: the flags and the node's containerd. The error names the flag.
absl::StatusOr<operands::KataAgentOptions> AgentOptions(const AgentMain& main,
                                                        const KataFlags& flags,
                                                        operands::ContainerdTarget containerd) {
  operands::KataAgentOptions options{.config_file = flags.config_file,
                                     .root = host::HostRoot(main.HostRoot()),
                                     .containerd = std::move(containerd),
                                     .architecture = oci::NodeArchitecture(),
                                     .validations_dir = flags.validations_dir,
                                     .resync = std::chrono::seconds(*flags.resync),
                                     .once = flags.once,
                                     .node_name = main.NodeName()};
  if (!flags.plain_http.empty())
    options.plain_http_registries = absl::StrSplit(flags.plain_http, ',');
  if (!flags.ca_file.empty()) {
    absl::StatusOr<std::string> ca = common::ReadFile(flags.ca_file);
    if (!ca.ok()) {
      return absl::Status(ca.status().code(),
                          absl::StrCat("--registry-ca-file: ", ca.status().message()));
    }
    options.ca_pem = *ca;
  }
  return options;
}

void LogStart(AgentMain& main, const KataFlags& flags, const operands::ContainerdTarget& target) {
  const containerd::ContainerdVersion& version = target.install.version;
  main.Log().Info(
      "kata-manager started",
      {{"config", flags.config_file},
       {"host_root", main.HostRoot()},
       {"containerd", absl::StrCat(version.major, ".", version.minor)},
       {"distribution", std::string(containerd::DistributionName(target.layout.distribution))},
       {"containerd_config", target.layout.config_path},
       {"drop_in", target.layout.drop_in_path},
       {"node", main.NodeName()}});
}

int RunKataManager(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("kata-manager", kSummary, out, err);
  KataFlags flags;
  DeclareFlags(main, flags);
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  const std::string& restart = flags.containerd.restart;
  if (restart != "auto" && restart != "systemd" && restart != "signal" && restart != "none") {
    return main.UsageError("--containerd-restart is auto, systemd, signal or none");
  }
  common::Logger& log = main.Log();
  if (!flags.once && !flags.cleanup) main.CatchSignals();
  const host::HostRoot root(main.HostRoot());
  std::unique_ptr<operands::KataNodeReporter> node =
      flags.cleanup ? nullptr : ConnectToNode(main, flags.ns);
  absl::StatusOr<containerd::ContainerdVersion> version =
      operands::DetectContainerd(root, flags.containerd_version, node.get());
  if (!version.ok()) {
    log.Error("cannot tell which containerd the node runs",
              {{"error", std::string(version.status().message())}});
    return 1;
  }
  absl::StatusOr<operands::ContainerdTarget> target =
      operands::ResolveContainerd(root, flags.containerd, *version);
  if (!target.ok()) return main.UsageError(target.status().message());
  absl::StatusOr<operands::KataAgentOptions> options = AgentOptions(main, flags, *target);
  if (!options.ok()) return main.UsageError(options.status().message());
  if (flags.cleanup) {
    return operands::KataManagerAgent(*std::move(options), nullptr, log).TakeHandlersOut() ? 0 : 1;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> server =
      main.ServeMetrics(registry, /*serve=*/!flags.once);
  if (!server.ok()) return main.Failure(server.status().message());
  operands::KataManagerMetrics metrics(*registry);
  LogStart(main, flags, *target);
  operands::KataManagerAgent agent(*std::move(options), node.get(), log, &metrics, server->get());
  return agent.Run(main.Stop());
}

}  // namespace

Subcommand KataManagerSubcommand() {
  return {"kata-manager", "install Kata artifacts and containerd runtime handlers (node agent)",
          RunKataManager};
}

}  // namespace gpuop::cli
