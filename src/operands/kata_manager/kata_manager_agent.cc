#include "operands/kata_manager/kata_manager_agent.h"

#include <filesystem>

#include "absl/strings/str_cat.h"

#include "api/labels.h"
#include "api/paths.h"
#include "common/atomic_file.h"
#include "common/files.h"

namespace gpuop::operands {

bool KataManagerDeployedHere(const std::map<std::string, std::string>& labels) {
  const auto label = labels.find(api::DeployLabelOf(api::operand::kKataManager));
  return label != labels.end() && api::DeployLabelKeepsOperand(label->second);
}

KataManagerAgent::KataManagerAgent(KataAgentOptions options, KataNode* node, common::Logger& log,
                                   KataManagerMetrics* metrics, common::MetricsServer* server,
                                   common::Clock& clock)
    : options_(std::move(options)),
      pass_{.root = options_.root,
            .containerd = options_.containerd.install,
            .architecture = options_.architecture,
            .ca_pem = options_.ca_pem,
            .plain_http_registries = options_.plain_http_registries},
      node_(node),
      log_(log),
      metrics_(metrics),
      server_(server),
      clock_(clock) {}

int KataManagerAgent::Run(const common::StopSignal& stop) {
  pass_.stop = &stop;
  absl::StatusOr<std::unique_ptr<common::FileEvents>> events = common::FileEvents::Create();
  const std::string config_dir = std::filesystem::path(options_.config_file).parent_path().string();
  if (events.ok()) (*events)->Watch(config_dir);  // A ConfigMap update swaps a symlink there.
  while (true) {
    const std::optional<bool> ok = Round();
    if (!ok.has_value()) break;
    if (server_ != nullptr) server_->SetReady(*ok, *ok ? "" : "the last pass failed; see the log");
    if (options_.once) return *ok ? 0 : 1;
    WaitForChange(events.ok() ? events->get() : nullptr, stop);
    if (stop.Stopped()) break;
  }
  if (!CleanUpIfUndeployed()) return 1;
  log_.Info("kata-manager stopped");
  return 0;
}

std::optional<bool> KataManagerAgent::Round() {
  absl::StatusOr<KataManagerConfig> config = ReadConfig();
  if (!config.ok()) return false;
  const std::optional<std::map<std::string, std::string>> labels = PickingLabels(*config);
  if (!labels.has_value()) return false;
  const PullSecretReader secrets = [&](const std::string& name) -> absl::StatusOr<std::string> {
    if (node_ == nullptr) return absl::FailedPreconditionError("no Kubernetes API to read it from");
    return node_->PullSecret(name);
  };
  const common::Clock::TimePoint started = clock_.Now();
  KataPassReport report = RunKataPass(*config, *labels, secrets, pass_, log_);
  if (report.stopped) return std::nullopt;
  if (report.containerd_changed) RestartContainerd(report);
  if (node_ != nullptr) node_->Report(report);
  if (metrics_ != nullptr) metrics_->Observe(report, clock_.Now() - started);
  if (report.Ok()) WriteReadyFile();
  return report.Ok();
}

absl::StatusOr<KataManagerConfig> KataManagerAgent::ReadConfig() {
  absl::StatusOr<std::string> text = common::ReadFile(options_.config_file);
  absl::StatusOr<KataManagerConfig> config =
      text.ok() ? ParseKataManagerConfig(*text) : absl::StatusOr<KataManagerConfig>(text.status());
  if (!config.ok()) {
    log_.Error(
        "cannot read the kata manager config; nothing changed",
        {{"config", options_.config_file}, {"error", std::string(config.status().message())}});
    return config;
  }
  if (*text != last_config_) {
    log_.Info("config read", {{"runtime_classes", std::to_string(config->runtime_classes.size())}});
  }
  last_config_ = *text;
  return config;
}

std::optional<std::map<std::string, std::string>> KataManagerAgent::PickingLabels(
    KataManagerConfig& config) {
  if (node_ == nullptr) {
    for (RuntimeClassArtifacts& runtime_class : config.runtime_classes) {
      runtime_class.node_selector.clear();
    }
    return std::map<std::string, std::string>();
  }
  absl::StatusOr<std::map<std::string, std::string>> labels = node_->NodeLabels();
  if (!labels.ok()) {
    log_.Error("cannot read the node's labels; will retry",
               {{"node", options_.node_name}, {"error", std::string(labels.status().message())}});
    return std::nullopt;
  }
  return *std::move(labels);
}

void KataManagerAgent::RestartContainerd(KataPassReport& report) {
  const containerd::RestartOptions& restart = options_.containerd.restart;
  if (absl::Status restarted = containerd::RestartContainerd(options_.root, restart);
      !restarted.ok()) {
    report.containerd_error = absl::StrCat("containerd restart: ", restarted.message());
    log_.Error("containerd restart failed", {{"error", report.containerd_error}});
  } else if (restart.mode != "none") {
    log_.Info("containerd restarted and answering", {{"socket", restart.socket}});
  }
}

void KataManagerAgent::WriteReadyFile() {
  if (ready_written_ || options_.validations_dir.empty()) return;
  // On the host, like the other agents' ready-files, for the validator to see.
  const std::string ready =
      options_.root.Path(options_.validations_dir) + "/" + api::kKataManagerReadyFile;
  if (absl::Status written = common::WriteFileAtomicallyCreatingFolders(ready, ""); written.ok()) {
    ready_written_ = true;
  } else {
    log_.Error("cannot write the ready file; will try again",
               {{"file", ready}, {"error", std::string(written.message())}});
  }
}

void KataManagerAgent::WaitForChange(common::FileEvents* events, const common::StopSignal& stop) {
  const common::Clock::TimePoint until = clock_.Now() + options_.resync;
  bool changed = false;
  while (!stop.Stopped() && !changed && clock_.Now() < until) {
    if (events != nullptr) {
      changed = !events->Wait(std::chrono::seconds(1)).empty();
    } else {
      stop.SleepFor(std::chrono::seconds(1));
    }
  }
}

bool KataManagerAgent::CleanUpIfUndeployed() {
  // Taken off the node rather than restarted: take gpuop's handlers out as --cleanup does, so
  // the node's containerd is as it was. The artifacts stay on disk (docs/install.md,
  // "Uninstall").
  if (node_ == nullptr) return true;
  absl::StatusOr<std::map<std::string, std::string>> labels = node_->NodeLabels();
  if (!labels.ok()) {
    log_.Warn("cannot read the node's labels: containerd's handlers are left as they are",
              {{"node", options_.node_name}, {"error", std::string(labels.status().message())}});
    return true;
  }
  if (KataManagerDeployedHere(*labels)) return true;
  log_.Info("no longer deployed on this node: cleaning up", {{"node", options_.node_name}});
  return TakeHandlersOut();
}

bool KataManagerAgent::TakeHandlersOut() {
  absl::StatusOr<bool> removed = containerd::RemoveHandlers(options_.root, pass_.containerd);
  if (!removed.ok()) {
    log_.Error("cleanup failed", {{"error", std::string(removed.status().message())}});
    return false;
  }
  log_.Info(*removed ? "Kata handlers taken out of containerd's config" : "nothing to clean up",
            {{"config", options_.containerd.layout.config_path}});
  if (!*removed) return true;
  if (absl::Status restarted =
          containerd::RestartContainerd(options_.root, options_.containerd.restart);
      !restarted.ok()) {
    log_.Error("containerd restart failed", {{"error", std::string(restarted.message())}});
    return false;
  }
  return true;
}

}  // namespace gpuop::operands
