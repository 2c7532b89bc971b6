#pragma once

// `gpuop kata-manager`'s life on a node, around its passes (kata_manager.h): it reads the config
// (again as soon as its ConfigMap changes, else every resync), picks the runtime classes by the
// node's labels, runs a pass, restarts containerd when the pass changed its config, tells the
// Node and the metrics, and writes the ready file after the first good pass. At stop it takes
// gpuop's handlers out of containerd's config when the node no longer wants the agent (its deploy
// label gone: a workload flip, helm uninstall) and leaves them on a restart (a rollout, a crash,
// a CC mode switch's pause).
//
//   KataManagerAgent agent(options, node, log);  // node: nullptr without the API
//   return agent.Run(stop);                      // the exit status

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "common/clock.h"
#include "common/file_events.h"
#include "common/logger.h"
#include "common/metrics_server.h"
#include "common/stop_signal.h"
#include "host/host_root.h"
#include "operands/kata_manager/containerd_target.h"
#include "operands/kata_manager/kata_manager.h"
#include "operands/kata_manager/kata_manager_metrics.h"
#include "operands/kata_manager/kata_node_reporter.h"

namespace gpuop::operands {

struct KataAgentOptions {
  std::string config_file;  // The config YAML, in a folder a ConfigMap update swaps a link in.
  host::HostRoot root;
  ContainerdTarget containerd;
  std::string architecture = "amd64";
  std::string ca_pem;                              // As KataManagerOptions.
  std::vector<std::string> plain_http_registries;  // As KataManagerOptions.
  std::string validations_dir;                     // Host folder of the ready file; empty: none.
  std::chrono::milliseconds resync = std::chrono::seconds(300);
  bool once = false;      // One pass, then Run returns: 0 when it all applied, 1 otherwise.
  std::string node_name;  // For the log.
};

// Whether the node's labels still want a Kata manager: its deploy label is true, or paused (a
// CC mode switch takes the agents off for a while and puts them back).
bool KataManagerDeployedHere(const std::map<std::string, std::string>& labels);

class KataManagerAgent {
 public:
  // `node`, `metrics` and `server` may be nullptr: no API, no metrics, no /readyz.
  KataManagerAgent(KataAgentOptions options, KataNode* node, common::Logger& log,
                   KataManagerMetrics* metrics = nullptr, common::MetricsServer* server = nullptr,
                   common::Clock& clock = common::SteadyClock::Instance());

  // Passes until `stop` (or one with options.once), then the cleanup a node that no longer
  // wants the agent gets, and "kata-manager stopped" in the log. 0 on a clean stop; 1 when the
  // cleanup failed, or after a once pass that did not apply.
  int Run(const common::StopSignal& stop);

  // What --cleanup does, and a stop on a node that no longer wants the agent: takes gpuop's
  // handlers out of containerd's config and restarts containerd when something changed. False
  // (said in the log) when either failed.
  bool TakeHandlersOut();

 private:
  // One round: the config, the node's labels, the pass and what follows it. Whether it all
  // applied; nullopt when a stop cut the pass short (there is nothing to report then).
  std::optional<bool> Round();
  // The config, said in the log when it cannot be read or has changed.
  absl::StatusOr<KataManagerConfig> ReadConfig();
  // The labels the classes are picked by; nullopt (said in the log) while the API cannot say.
  // Without the API every class applies: their selectors are cleared, as they cannot be checked.
  std::optional<std::map<std::string, std::string>> PickingLabels(KataManagerConfig& config);
  // After a pass that changed containerd's config; a failure goes into the report.
  void RestartContainerd(KataPassReport& report);
  void WriteReadyFile();
  // Until the config's folder changes, the resync period ends or `stop`.
  void WaitForChange(common::FileEvents* events, const common::StopSignal& stop);
  // At stop: TakeHandlersOut when the node no longer wants the agent. False when that failed.
  bool CleanUpIfUndeployed();

  const KataAgentOptions options_;
  KataManagerOptions pass_;
  KataNode* const node_;
  common::Logger& log_;
  KataManagerMetrics* const metrics_;
  common::MetricsServer* const server_;
  common::Clock& clock_;
  std::string last_config_;  // The text of the config last read, to log a change once.
  bool ready_written_ = false;
};

}  // namespace gpuop::operands
