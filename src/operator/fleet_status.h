#pragma once

// `gpuop status`: what an admin asks first. The ClusterPolicy's state and conditions, and for
// each GPU node its workload, the operands deployed there, how many of their pods are ready and
// its CC mode, as one table; then each operand pod that is not ready, with why.

#include <string>

#include "nlohmann/json.hpp"

namespace gpuop::op {

struct FleetStatus {
  bool ready = false;  // The oldest ClusterPolicy says ready.
  std::string text;    // For a terminal, ending in a newline.
};

// `policies` and `nodes` are the items of a list; the oldest policy is the active one. `pods`,
// the operands' pods (label app.kubernetes.io/part-of=gpuop in the operator's namespace), add
// each node's count of ready pods and a line for each pod that is not ready, with why.
FleetStatus SummarizeFleet(const nlohmann::json& policies, const nlohmann::json& nodes,
                           const nlohmann::json& pods = nlohmann::json::array());

// The namespace the active policy's operator writes into its status (status.namespace); "" when
// there is none.
std::string OperatorNamespaceOf(const nlohmann::json& policies);

}  // namespace gpuop::op
