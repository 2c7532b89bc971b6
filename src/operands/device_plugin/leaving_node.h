#pragma once

// What a stopping device plugin does with its CDI specs. Taken off the node (its deploy label
// gone: helm uninstall, a workload change) rather than restarted (a rollout, a crash, a CC mode
// switch's pause), the specs go with it; otherwise they stay, for the Kata pods still running
// there. Asked at stop, when the operator or the uninstall has already changed the label that
// stopped the plugin.
//
//   agent.Run(stop);
//   SettleCdiSpecs(agent, node_name, still_deployed, log);

#include <functional>
#include <string>

#include "absl/status/statusor.h"

#include "common/logger.h"
#include "operands/device_plugin/device_plugin_agent.h"

namespace gpuop::operands {

// Whether the node still wants the plugin, from its deploy label; an error when the API cannot
// say, and then nothing is removed (the specs would go from under running pods).
using DeployedCheck = std::function<absl::StatusOr<bool>()>;

// Removes the agent's CDI specs when `still_deployed` says the node no longer wants the plugin;
// keeps them otherwise, and where there is no node to ask (`node_name` empty). Says which in
// the log.
void SettleCdiSpecs(DevicePluginAgent& agent, const std::string& node_name,
                    const DeployedCheck& still_deployed, common::Logger& log);

}  // namespace gpuop::operands
