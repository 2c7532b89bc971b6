#pragma once

// What `helm uninstall` runs first (the chart's pre-delete Job, `gpuop uninstall-cleanup`), so
// that the nodes are left as they were before gpuop came:
//   1. the operator Deployment is scaled to 0, so nothing puts labels back;
//   2. each node loses the labels and annotations gpuop wrote; its deploy labels gone, the
//      DaemonSets take their pods off, and each agent, seeing its label gone (not a rollout),
//      undoes its own host changes as docs/install.md lists (the Kata manager's containerd
//      handlers, the device plugin's CDI spec, the validator's ready files);
//   3. once no operand pod is left, every ClusterPolicy is deleted, and the garbage collector
//      takes the operand objects it owns.
// What an admin wrote stays: nvidia.com/gpu.workload.config, nvidia.com/cc.mode,
// nvidia.com/gpu.deploy.operands.

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

#include "common/logger.h"
#include "common/stop_signal.h"
#include "kube/rest_client.h"

namespace gpuop::op {

// The merge patch that takes gpuop's labels and annotations off a node with these labels and
// annotations (objects); null when there is nothing to take off.
kube::json UninstallNodePatch(const kube::json& labels, const kube::json& annotations);

struct UninstallCleanupOptions {
  std::string operator_namespace;
  std::string operator_deployment = "gpuop-operator";
  // How long to wait for the operand pods to go before the labels are taken off anyway.
  // The CC manager may take its 180 s grace period to finish a switch under way.
  std::chrono::seconds pods_timeout{200};
};

// Runs the three steps, then takes off any label an agent wrote back while it stopped. An error
// names the step; after the operator was scaled down, a failure scales it back. Idempotent: a
// second run finds nothing to do.
absl::Status RunUninstallCleanup(kube::RestClient& client, common::Logger& log,
                                 const UninstallCleanupOptions& options,
                                 const common::StopSignal& stop);

}  // namespace gpuop::op
