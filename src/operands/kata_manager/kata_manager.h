#pragma once

// One pass of `gpuop kata-manager`: for every runtime class of the config whose nodeSelector
// this node matches, install its artifacts (artifact_installer.h), then register one containerd
// runtime handler per installed class through gpuop's drop-in (containerd/handler_installer.h).
// A class that fails does not hold up the others; one installed before keeps its handler. The
// report says what happened, for the log, the node's Events and annotation, and the exit code.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "common/logger.h"
#include "common/stop_signal.h"
#include "containerd/handler_installer.h"
#include "host/host_root.h"
#include "operands/kata_manager/artifact_installer.h"
#include "operands/kata_manager/kata_manager_config.h"

namespace gpuop::operands {

// The `.dockerconfigjson` of the named pull secret.
using PullSecretReader = std::function<absl::StatusOr<std::string>(const std::string& name)>;

struct KataManagerOptions {
  host::HostRoot root;
  containerd::HandlerInstallOptions containerd;  // Host paths, and the node's containerd.
  std::string architecture = "amd64";
  std::string ca_pem;  // Extra trust for registries; empty: the system's.
  // Registries spoken to over plain HTTP ("127.0.0.1:5000"): loopback test registries only.
  std::vector<std::string> plain_http_registries;
  // The agent's SIGTERM: ends a pull at once, and the pass without touching containerd.
  const common::StopSignal* stop = nullptr;
};

struct KataPassReport {
  std::vector<InstalledArtifact> installed;     // Current installs, downloaded now or before.
  std::map<std::string, std::string> failures;  // runtime class -> what went wrong
  std::vector<std::string> skipped;             // Classes whose nodeSelector this node misses.
  bool containerd_changed = false;              // containerd must restart to load it.
  std::string containerd_error;
  bool stopped = false;  // Cut short by a stop: nothing was changed in containerd's config.
  bool Ok() const { return failures.empty() && containerd_error.empty(); }
};

KataPassReport RunKataPass(const KataManagerConfig& config,
                           const std::map<std::string, std::string>& node_labels,
                           const PullSecretReader& pull_secrets, const KataManagerOptions& options,
                           common::Logger& log);

}  // namespace gpuop::operands
