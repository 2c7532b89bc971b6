#pragma once

// When an operand DaemonSet counts as rolled out (the rule of NVIDIA GPU Operator v26.7's newer
// state framework, internal/state/state_skel.go): the controller has seen the current spec
// (observedGeneration), and every node that should run a pod runs an updated, available one.
// No node to run on is ready too (a cluster without vm-passthrough nodes).

#include <cstdint>
#include <optional>
#include <string>

#include "kube/json_element.h"

namespace gpuop::op {

// What the operator keeps of a DaemonSet it owns.
struct DaemonSetView {
  std::string state;         // gpuop.io/state
  std::string applied_hash;  // gpuop.io/applied-hash
  int64_t generation = 0;
  int64_t observed_generation = 0;
  int64_t desired = 0;  // status.desiredNumberScheduled
  int64_t updated = 0;  // status.updatedNumberScheduled
  int64_t available = 0;
  int64_t unavailable = 0;
};

DaemonSetView ProjectDaemonSet(kube::JsonElement object);

// nullopt when rolled out; otherwise why not, for the ClusterPolicy's status
// ("2 of 3 pods available", "rollout of generation 4 not yet seen").
std::optional<std::string> NotRolledOutReason(const DaemonSetView& view);

}  // namespace gpuop::op
