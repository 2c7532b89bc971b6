#include "operands/kata_manager/kata_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "api/host_folders.h"
#include "oci/credentials.h"

namespace gpuop::operands {
namespace {

absl::StatusOr<InstalledArtifact> InstallOne(const RuntimeClassArtifacts& runtime_class,
                                             const KataManagerConfig& config,
                                             const PullSecretReader& pull_secrets,
                                             const KataManagerOptions& options,
                                             common::Logger& log) {
  const std::string& registry_host = runtime_class.artifacts.registry;
  oci::RegistryOptions registry{
      .ca_pem = options.ca_pem,
      .plain_http =
          std::find(options.plain_http_registries.begin(), options.plain_http_registries.end(),
                    registry_host) != options.plain_http_registries.end()};
  registry.stop = options.stop;
  if (!runtime_class.pull_secret.empty()) {
    absl::StatusOr<std::string> secret = pull_secrets(runtime_class.pull_secret);
    if (!secret.ok()) {
      return absl::Status(
          secret.status().code(),
          absl::StrCat("pull secret ", runtime_class.pull_secret, ": ", secret.status().message()));
    }
    absl::StatusOr<std::optional<oci::Credentials>> credentials =
        oci::CredentialsFor(*secret, registry_host);
    if (!credentials.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("pull secret ", runtime_class.pull_secret,
                                                     ": ", credentials.status().message()));
    }
    if (!credentials->has_value()) {
      log.Warn("the pull secret has no entry for the registry; pulling anonymously",
               {{"runtime_class", runtime_class.name},
                {"secret", runtime_class.pull_secret},
                {"registry", registry_host}});
    }
    registry.credentials = *credentials;
  }
  // The folder as the host sees it: a link on the way (image-based hosts link /opt or /var)
  // is followed inside the host root, and where it ends must pass the same rule as the config.
  absl::StatusOr<host::HostRoot::Resolved> dir = options.root.Resolve(config.artifacts_dir);
  if (!dir.ok()) return dir.status();
  if (dir->through_link) {
    if (std::optional<std::string> problem = api::ArtifactsDirProblem(dir->host_path)) {
      return absl::FailedPreconditionError(absl::StrCat("artifactsDir ", config.artifacts_dir,
                                                        " leads by symlinks to ", dir->host_path,
                                                        ", which ", *problem));
    }
  }
  oci::RegistryClient client(registry_host, registry);
  return InstallArtifact(client, runtime_class,
                         {.artifacts_dir = options.root.Path(dir->host_path),
                          .host_artifacts_dir = dir->host_path,
                          .architecture = options.architecture},
                         log);
}

}  // namespace

KataPassReport RunKataPass(const KataManagerConfig& config,
                           const std::map<std::string, std::string>& node_labels,
                           const PullSecretReader& pull_secrets, const KataManagerOptions& options,
                           common::Logger& log) {
  KataPassReport report;
  std::vector<containerd::RuntimeHandler> handlers;
  const auto stopping = [&] { return options.stop != nullptr && options.stop->Stopped(); };
  for (const RuntimeClassArtifacts& runtime_class : config.runtime_classes) {
    if (stopping()) break;
    if (!SelectorMatches(runtime_class.node_selector, node_labels)) {
      report.skipped.push_back(runtime_class.name);
      continue;
    }
    absl::StatusOr<InstalledArtifact> installed =
        InstallOne(runtime_class, config, pull_secrets, options, log);
    if (installed.ok()) {
      handlers.push_back({runtime_class.name, installed->config_path});
      report.installed.push_back(*std::move(installed));
      continue;
    }
    report.failures[runtime_class.name] = std::string(installed.status().message());
    log.Error("cannot install the Kata artifacts",
              {{"runtime_class", runtime_class.name},
               {"url", runtime_class.url},
               {"error", std::string(installed.status().message())}});
    // An install from an earlier pass keeps its handler.
    const std::optional<ArtifactRecord> previous = ReadArtifactRecord(
        options.root.Path(absl::StrCat(config.artifacts_dir, "/", runtime_class.name)));
    if (previous.has_value()) handlers.push_back({runtime_class.name, previous->config_path});
  }
  // A pass cut short knows only some classes: registering those alone would take the others'
  // handlers out.
  if (stopping()) {
    report.stopped = true;
    return report;
  }
  if (handlers.empty()) {
    absl::StatusOr<bool> removed = containerd::RemoveHandlers(options.root, options.containerd);
    if (!removed.ok()) {
      report.containerd_error = std::string(removed.status().message());
    } else {
      report.containerd_changed = *removed;
    }
  } else {
    absl::StatusOr<containerd::InstallResult> registered =
        containerd::InstallHandlers(options.root, options.containerd, handlers);
    if (!registered.ok()) {
      report.containerd_error = std::string(registered.status().message());
    } else {
      report.containerd_changed = registered->changed;
    }
  }
  if (!report.containerd_error.empty()) {
    log.Error("cannot register the Kata runtime handlers with containerd",
              {{"config", options.containerd.config_path}, {"error", report.containerd_error}});
  } else if (report.containerd_changed) {
    log.Info("containerd config updated", {{"config", options.containerd.config_path},
                                           {"drop_in", options.containerd.drop_in_path},
                                           {"handlers", std::to_string(handlers.size())}});
  }
  return report;
}

}  // namespace gpuop::operands
