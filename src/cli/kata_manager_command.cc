// `gpuop kata-manager`: installs the Kata artifacts of the node's runtime classes and registers
// their containerd handlers (operands/kata_manager), then keeps them current.

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

#include "api/agent_endpoints.h"
#include "api/labels.h"
#include "api/paths.h"
#include "cli/dispatcher.h"
#include "cli/flag_parser.h"
#include "cli/signals.h"
#include "cli/subcommands.h"
#include "common/atomic_file.h"
#include "common/file_events.h"
#include "common/files.h"
#include "common/logger.h"
#include "common/metrics_server.h"
#include "common/subprocess.h"
#include "containerd/containerd_layout.h"
#include "containerd/containerd_restart.h"
#include "containerd/containerd_version.h"
#include "kube/event_recorder.h"
#include "kube/rest_client.h"
#include "oci/manifest.h"
#include "operands/kata_manager/kata_manager.h"
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

// The node's containerd release: --containerd-version, else what kubelet reports on the Node
// ("containerd://1.7.27"), else `containerd --version` of the host's binary (which may not run
// in the agent's image).
absl::StatusOr<containerd::ContainerdVersion> DetectContainerd(const host::HostRoot& root,
                                                               const std::string& given,
                                                               operands::KataNodeReporter* node) {
  if (!given.empty()) return containerd::ParseContainerdRelease(given);
  if (node != nullptr) {
    absl::StatusOr<std::string> reported = node->ContainerRuntimeVersion();
    if (reported.ok() && reported->starts_with("containerd://")) {
      return containerd::ParseContainerdRelease(reported->substr(13));
    }
  }
  // Where plain containerd, k3s, rke2, k0s and microk8s keep it.
  for (const char* binary :
       {"/usr/bin/containerd", "/usr/local/bin/containerd",
        "/var/lib/rancher/k3s/data/current/bin/containerd", "/var/lib/rancher/rke2/bin/containerd",
        "/var/lib/k0s/bin/containerd", "/snap/microk8s/current/bin/containerd"}) {
    if (!root.Exists(binary)) continue;
    absl::StatusOr<common::ProcessResult> run =
        common::RunProcess({root.Path(binary), "--version"}, {.timeout = std::chrono::seconds(10)});
    if (run.ok() && run->exit_code == 0) return containerd::ParseContainerdVersion(run->out);
  }
  return absl::NotFoundError(
      "cannot run the host's containerd --version; say which it is with --containerd-version");
}

// The node's containerd as the agent will touch it: the distribution's layout, with what the
// flags name explicitly in place of the layout's paths.
struct ContainerdTarget {
  containerd::ContainerdLayout layout;
  containerd::HandlerInstallOptions install;
  containerd::RestartOptions restart;
};

struct ContainerdFlags {
  std::string distribution;  // "auto" or a distribution's name.
  std::string config;        // Each empty: the layout's.
  std::string drop_in;
  std::string socket;
  std::string restart;
  std::string systemd_bus;
};

absl::StatusOr<ContainerdTarget> ResolveContainerd(const host::HostRoot& root,
                                                   const ContainerdFlags& flags,
                                                   const containerd::ContainerdVersion& version) {
  containerd::Distribution distribution = containerd::DetectDistribution(root);
  if (flags.distribution != "auto") {
    absl::StatusOr<containerd::Distribution> named =
        containerd::ParseDistribution(flags.distribution);
    if (!named.ok()) return named.status();
    distribution = *named;
  }
  absl::StatusOr<containerd::ContainerdLayout> layout =
      containerd::LayoutFor(root, distribution, version);
  if (!layout.ok()) return layout.status();
  ContainerdTarget target{.layout = *layout};
  if (!flags.config.empty()) target.layout.config_path = flags.config;
  if (!flags.drop_in.empty()) target.layout.drop_in_path = flags.drop_in;
  if (!flags.socket.empty()) target.layout.socket = flags.socket;
  target.install = {.config_path = target.layout.config_path,
                    .drop_in_path = target.layout.drop_in_path,
                    .version = version,
                    .import_mode = target.layout.import_mode,
                    .template_path = target.layout.template_path,
                    .rendered_path = target.layout.rendered_path};
  // k0s restarts its containerd itself when its drop-in dir changes.
  const bool restarts_itself = target.layout.units.empty() && flags.restart == "auto";
  target.restart = {.mode = restarts_itself ? "none" : flags.restart,
                    .units = target.layout.units,
                    .socket = target.layout.socket,
                    .systemd_bus = flags.systemd_bus};
  return target;
}

struct ApiAccess {
  std::unique_ptr<kube::RestClient> client;
  std::unique_ptr<kube::EventRecorder> recorder;
  std::unique_ptr<operands::KataNodeReporter> reporter;
};

ApiAccess ConnectToApi(const std::string& node_name, const std::string& ns,
                       const std::string& kubeconfig, common::Logger& log) {
  ApiAccess api;
  if (node_name.empty()) {
    log.Info(
        "no --node-name ($NODE_NAME): every runtime class applies, no pull secrets, "
        "problems go to the log only");
    return api;
  }
  absl::StatusOr<std::unique_ptr<kube::RestClient>> client =
      kube::ConnectToApiServer({.kubeconfig = kubeconfig});
  if (!client.ok()) {
    log.Error("cannot reach the Kubernetes API",
              {{"error", std::string(client.status().message())}});
    return api;
  }
  api.client = *std::move(client);
  api.recorder = std::make_unique<kube::EventRecorder>(*api.client, "gpuop.io/kata-manager",
                                                       EnvOr("POD_NAME", node_name));
  api.reporter =
      std::make_unique<operands::KataNodeReporter>(*api.client, *api.recorder, node_name, ns, log);
  return api;
}

// Whether the node still wants a Kata manager: its deploy label is true, or paused (a CC mode
// switch takes the agents off for a while and puts them back).
bool StillDeployedHere(const std::map<std::string, std::string>& labels) {
  const auto label = labels.find(std::string(api::kDeployLabelPrefix) + api::operand::kKataManager);
  if (label == labels.end()) return false;
  return label->second == "true" || absl::StrContains(label->second, "paused");
}

int RunKataManager(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string config_file = EnvOr("CONFIG_FILE", "/etc/kata-manager/config.yaml");
  std::string host_root = EnvOr("HOST_ROOT", "/");
  std::string node_name = EnvOr("NODE_NAME", "");
  std::string ns = EnvOr("POD_NAMESPACE", "");
  std::string kubeconfig;
  std::string validations_dir = api::kValidationsDir;
  ContainerdFlags containerd_flags{.distribution = EnvOr("CONTAINERD_DISTRIBUTION", "auto"),
                                   .config = EnvOr("CONTAINERD_CONFIG", ""),
                                   .socket = EnvOr("CONTAINERD_SOCKET", ""),
                                   .restart = EnvOr("CONTAINERD_RESTART", "auto"),
                                   .systemd_bus = EnvOr("SYSTEMD_BUS", "")};
  std::string containerd_version;
  std::string plain_http;
  std::string ca_file;
  std::string resync_seconds = "300";
  std::string metrics_address = api::kAgentMetricsAddress;
  std::string log_format = EnvOr("LOG_FORMAT", "text");
  bool once = false;
  bool cleanup = false;
  FlagParser flags("kata-manager");
  flags.String("config", &config_file, "the kata manager config YAML ($CONFIG_FILE)");
  flags.String("host-root", &host_root, "where the host's / is mounted ($HOST_ROOT)");
  flags.String("node-name", &node_name,
               "this node: its labels pick the runtime classes ($NODE_NAME)");
  flags.String("namespace", &ns, "where the pull secrets are ($POD_NAMESPACE)");
  flags.String("kubeconfig", &kubeconfig, "kubeconfig (default: $KUBECONFIG, then in-cluster)");
  flags.String("validations-dir", &validations_dir, "host directory for the ready-file");
  flags.String("containerd-distribution", &containerd_flags.distribution,
               "whose containerd the node runs: containerd, k3s, rke2, k0s, microk8s, or auto "
               "(told by their files on the host) ($CONTAINERD_DISTRIBUTION)");
  flags.String("containerd-config", &containerd_flags.config,
               "host path of containerd's main config (default: the distribution's) "
               "($CONTAINERD_CONFIG)");
  flags.String("containerd-drop-in", &containerd_flags.drop_in,
               "host path of gpuop's drop-in (default: the distribution's)");
  flags.String("containerd-version", &containerd_version,
               "the node's containerd release (1.7, 2.1); default: ask the host's containerd");
  flags.String("containerd-restart", &containerd_flags.restart,
               "after a change: systemd (its D-Bus API restarts the distribution's unit), "
               "signal (SIGTERM; its supervisor starts it again), auto (systemd if the host "
               "booted with it, else signal; nothing on k0s, which restarts it itself) or none "
               "($CONTAINERD_RESTART)");
  flags.String("containerd-socket", &containerd_flags.socket,
               "host path of containerd's socket (default: the distribution's) "
               "($CONTAINERD_SOCKET)");
  flags.String("systemd-bus", &containerd_flags.systemd_bus,
               "D-Bus address of systemd (default: the host's system bus under --host-root) "
               "($SYSTEMD_BUS)");
  flags.String("plain-http-registries", &plain_http,
               "registries reached over plain HTTP, comma-separated (loopback test registries)");
  flags.String("registry-ca-file", &ca_file, "PEM file of CAs to trust for registries");
  flags.String("resync", &resync_seconds, "seconds between passes when nothing changes");
  flags.String("metrics-address", &metrics_address, "[host]:port for /metrics, /healthz, /readyz");
  flags.String("log-format", &log_format, "text or json ($LOG_FORMAT)");
  flags.Bool("once", &once, "one pass, then exit: 0 when everything applied, 1 otherwise");
  flags.Bool("cleanup", &cleanup, "take gpuop's handlers out of containerd's config, then exit");
  if (std::optional<int> exit = flags.ParseOrExit(args, kSummary, out, err)) return *exit;
  common::LogFormat format;
  if (!common::ParseLogFormat(log_format, format)) {
    err << "kata-manager: --log-format is text or json\n";
    return kExitUsage;
  }
  int resync = 0;
  if (!absl::SimpleAtoi(resync_seconds, &resync) || resync < 1) {
    err << "kata-manager: --resync is whole seconds, at least 1\n";
    return kExitUsage;
  }
  const std::string& restart = containerd_flags.restart;
  if (restart != "auto" && restart != "systemd" && restart != "signal" && restart != "none") {
    err << "kata-manager: --containerd-restart is auto, systemd, signal or none\n";
    return kExitUsage;
  }
  common::Logger log(err, format);
  common::StopSignal stop;
  std::optional<StopOnSignals> signals;
  if (!once && !cleanup) signals.emplace(stop);
  const host::HostRoot root(host_root);

  ApiAccess api = cleanup ? ApiAccess{} : ConnectToApi(node_name, ns, kubeconfig, log);
  absl::StatusOr<containerd::ContainerdVersion> version =
      DetectContainerd(root, containerd_version, api.reporter.get());
  if (!version.ok()) {
    log.Error("cannot tell which containerd the node runs",
              {{"error", std::string(version.status().message())}});
    return 1;
  }
  absl::StatusOr<ContainerdTarget> target = ResolveContainerd(root, containerd_flags, *version);
  if (!target.ok()) {
    err << "kata-manager: " << target.status().message() << "\n";
    return kExitUsage;
  }
  const containerd::RestartOptions& restart_options = target->restart;
  operands::KataManagerOptions options{
      .root = root, .containerd = target->install, .architecture = oci::NodeArchitecture()};
  options.stop = &stop;
  if (!plain_http.empty()) options.plain_http_registries = absl::StrSplit(plain_http, ',');
  if (!ca_file.empty()) {
    absl::StatusOr<std::string> ca = common::ReadFile(ca_file);
    if (!ca.ok()) {
      err << "kata-manager: --registry-ca-file: " << ca.status().message() << "\n";
      return kExitUsage;
    }
    options.ca_pem = *ca;
  }

  const auto take_handlers_out = [&]() -> bool {
    absl::StatusOr<bool> removed = containerd::RemoveHandlers(root, options.containerd);
    if (!removed.ok()) {
      log.Error("cleanup failed", {{"error", std::string(removed.status().message())}});
      return false;
    }
    log.Info(*removed ? "Kata handlers taken out of containerd's config" : "nothing to clean up",
             {{"config", target->layout.config_path}});
    if (*removed) {
      if (absl::Status restarted = containerd::RestartContainerd(root, restart_options);
          !restarted.ok()) {
        log.Error("containerd restart failed", {{"error", std::string(restarted.message())}});
        return false;
      }
    }
    return true;
  };
  if (cleanup) return take_handlers_out() ? 0 : 1;

  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<common::MetricsServer> server;
  if (!once && !metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<common::MetricsServer>> started =
        common::MetricsServer::Start(metrics_address, registry);
    if (!started.ok()) {
      err << "kata-manager: " << started.status().message() << "\n";
      return 1;
    }
    server = *std::move(started);
  }
  operands::KataManagerMetrics metrics(*registry);
  absl::StatusOr<std::unique_ptr<common::FileEvents>> events = common::FileEvents::Create();
  const std::string config_dir = std::filesystem::path(config_file).parent_path().string();
  if (events.ok()) (*events)->Watch(config_dir);  // A ConfigMap update swaps a symlink there.

  log.Info(
      "kata-manager started",
      {{"config", config_file},
       {"host_root", host_root},
       {"containerd", absl::StrCat(version->major, ".", version->minor)},
       {"distribution", std::string(containerd::DistributionName(target->layout.distribution))},
       {"containerd_config", target->layout.config_path},
       {"drop_in", target->layout.drop_in_path},
       {"node", node_name}});
  std::string last_config;
  bool ready_written = false;
  while (true) {
    bool ok = false;
    absl::StatusOr<std::string> text = common::ReadFile(config_file);
    absl::StatusOr<operands::KataManagerConfig> config =
        text.ok() ? operands::ParseKataManagerConfig(*text)
                  : absl::StatusOr<operands::KataManagerConfig>(text.status());
    if (!config.ok()) {
      log.Error("cannot read the kata manager config; nothing changed",
                {{"config", config_file}, {"error", std::string(config.status().message())}});
    } else {
      if (*text != last_config)
        log.Info("config read",
                 {{"runtime_classes", std::to_string(config->runtime_classes.size())}});
      last_config = *text;
      std::map<std::string, std::string> labels;
      bool labels_known = api.reporter == nullptr;
      if (api.reporter) {
        absl::StatusOr<std::map<std::string, std::string>> read = api.reporter->NodeLabels();
        if (read.ok()) {
          labels = *std::move(read);
          labels_known = true;
        } else {
          log.Error("cannot read the node's labels; will retry",
                    {{"node", node_name}, {"error", std::string(read.status().message())}});
        }
      } else {
        // Without the API every class applies: selectors cannot be checked.
        for (operands::RuntimeClassArtifacts& runtime_class : config->runtime_classes) {
          runtime_class.node_selector.clear();
        }
      }
      if (labels_known) {
        const operands::PullSecretReader secrets =
            [&](const std::string& name) -> absl::StatusOr<std::string> {
          if (!api.reporter)
            return absl::FailedPreconditionError("no Kubernetes API to read it from");
          return api.reporter->PullSecret(name);
        };
        const auto pass_started = std::chrono::steady_clock::now();
        operands::KataPassReport report =
            operands::RunKataPass(*config, labels, secrets, options, log);
        if (report.stopped) break;  // Nothing to report: the pass was cut short on purpose.
        if (report.containerd_changed) {
          if (absl::Status restarted = containerd::RestartContainerd(root, restart_options);
              !restarted.ok()) {
            report.containerd_error = absl::StrCat("containerd restart: ", restarted.message());
            log.Error("containerd restart failed", {{"error", report.containerd_error}});
          } else if (restart_options.mode != "none") {
            log.Info("containerd restarted and answering", {{"socket", restart_options.socket}});
          }
        }
        if (api.reporter) api.reporter->Report(report);
        metrics.Observe(report, std::chrono::steady_clock::now() - pass_started);
        ok = report.Ok();
        if (ok && !ready_written && !validations_dir.empty()) {
          // On the host, like the other agents' ready-files, for the validator to see.
          const std::string ready = root.Path(validations_dir) + "/" + api::kKataManagerReadyFile;
          if (absl::Status written = common::WriteFileAtomicallyCreatingFolders(ready, "");
              written.ok()) {
            ready_written = true;
          } else {
            log.Error("cannot write the ready file; will try again",
                      {{"file", ready}, {"error", std::string(written.message())}});
          }
        }
      }
    }
    if (server) server->SetReady(ok, ok ? "" : "the last pass failed; see the log");
    if (once) return ok ? 0 : 1;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(resync);
    bool changed = false;
    while (!stop.Stopped() && !changed && std::chrono::steady_clock::now() < until) {
      if (events.ok()) {
        changed = !(*events)->Wait(std::chrono::seconds(1)).empty();
      } else {
        stop.SleepFor(std::chrono::seconds(1));
      }
    }
    if (stop.Stopped()) break;
  }
  // Taken off the node (its deploy label gone: a workload flip, helm uninstall) rather than
  // restarted (a rollout, a crash): take gpuop's handlers out as --cleanup does, so the node's
  // containerd is as it was. The artifacts stay on disk (docs/install.md, "Uninstall").
  if (api.reporter) {
    absl::StatusOr<std::map<std::string, std::string>> labels = api.reporter->NodeLabels();
    if (!labels.ok()) {
      log.Warn("cannot read the node's labels: containerd's handlers are left as they are",
               {{"node", node_name}, {"error", std::string(labels.status().message())}});
    } else if (!StillDeployedHere(*labels)) {
      log.Info("no longer deployed on this node: cleaning up", {{"node", node_name}});
      if (!take_handlers_out()) return 1;
    }
  }
  log.Info("kata-manager stopped");
  return 0;
}

}  // namespace

Subcommand KataManagerSubcommand() {
  return {"kata-manager", "install Kata artifacts and containerd runtime handlers (node agent)",
          RunKataManager};
}

}  // namespace gpuop::cli
