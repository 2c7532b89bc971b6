#pragma once

// `gpuop status`: what an admin asks first. The ClusterPolicy's state and conditions, and for
// each GPU node its workload, the operands deployed there and its CC mode, as one table.

#include <string>

#include "nlohmann/json.hpp"

namespace gpuop::op {

struct FleetStatus {
  bool ready = false;  // The oldest ClusterPolicy says ready.
  std::string text;    // For a terminal, ending in a newline.
};

// `policies` and `nodes` are the items of a list; the oldest policy is the active one.
FleetStatus SummarizeFleet(const nlohmann::json& policies, const nlohmann::json& nodes);

}  // namespace gpuop::op
