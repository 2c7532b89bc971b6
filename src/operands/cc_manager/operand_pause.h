#pragma once

// The eviction protocol around a CC mode switch, with NVIDIA's values (NVIDIA k8s-cc-manager
// v1.0.0, the Python agent's gpu_operator_eviction.py): the sandbox operands' deploy labels on this
// Node are set to a paused value, which the operator's DaemonSets do not select (they need "true")
// and its labeller leaves alone; once their pods are gone from the node the GPUs are reset; then
// the values from before come back. The list is NVIDIA's plus
// nvidia.com/gpu.deploy.kata-sandbox-device-plugin, which NVIDIA's cc-manager forgets although the
// Kata device plugin holds the GPUs too.
//
// Crash-safe: the values from before go into the Node's annotation gpuop.io/cc-paused-labels in
// the same patch that pauses them, so an agent killed mid-switch finds them on restart and puts
// them back (RestoreLeftover) instead of leaving the node's operands paused for good.
//
// The values, the record's annotation and the list are a contract with the operator, which
// recognises a pause and takes the record away at uninstall, so they live in src/api:
// PausedValueOf, UnpausedValue and kPausedLabelsAnnotation in api/labels.h, PausedOperands in
// api/paused_operands.h.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "common/logger.h"
#include "common/stop_signal.h"
#include "kube/informer.h"
#include "kube/rest_client.h"

namespace gpuop::operands {

class OperandPause {
 public:
  // `ns` is where the operands' pods run: the agent's own namespace.
  OperandPause(kube::RestClient& client, std::string node_name, std::string ns,
               common::Logger& log);

  // Records the deploy labels as they are and pauses them, in one patch. Returns what was
  // recorded (label -> value; absent labels are left out and left absent).
  absl::StatusOr<std::map<std::string, std::string>> Pause();

  // Waits, through a watch on the node's pods, until no pod of an operand that was deployed
  // (its value was changed by the pause) is left on the node, or `timeout` passes. Returns the
  // apps that still had pods then (empty: all gone).
  std::vector<std::string> WaitForPodsGone(const std::map<std::string, std::string>& recorded,
                                           std::chrono::milliseconds timeout,
                                           const common::StopSignal& stop);

  // Puts the recorded values back and removes the annotation, in one patch.
  absl::Status Restore(const std::map<std::string, std::string>& recorded);

  // After a crash: restores what the annotation recorded, if there is one. True when it did.
  absl::StatusOr<bool> RestoreLeftover();

 private:
  struct PodApp {
    std::string app;
  };
  absl::StatusOr<std::map<std::string, std::string>> PauseOnce();

  kube::RestClient& client_;
  const std::string node_name_;
  const std::string ns_;
  common::Logger& log_;
  // The pods watch of WaitForPodsGone. Stopping a watch takes up to a second, so it is kept
  // until Restore (after the switch) instead of holding the switch up.
  std::unique_ptr<kube::Informer<PodApp>> pods_;
};

}  // namespace gpuop::operands
