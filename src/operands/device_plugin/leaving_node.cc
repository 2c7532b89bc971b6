#include "operands/device_plugin/leaving_node.h"

#include "api/labels.h"

namespace gpuop::operands {

void SettleCdiSpecs(DevicePluginAgent& agent, const std::string& node_name,
                    const DeployedCheck& still_deployed, common::Logger& log) {
  if (node_name.empty()) {
    log.Info("no --node-name ($NODE_NAME): the CDI specs are kept, as on a restart");
    return;
  }
  const absl::StatusOr<bool> deployed = still_deployed();
  if (!deployed.ok()) {
    log.Warn("cannot read the node's deploy label: the CDI specs are kept",
             {{"node", node_name}, {"error", std::string(deployed.status().message())}});
  } else if (!*deployed) {
    log.Info("no longer deployed on this node: removing the CDI specs",
             {{"node", node_name},
              {"label", api::DeployLabelOf(api::operand::kKataSandboxDevicePlugin)}});
    agent.RemoveCdiSpecs();
  } else {
    log.Info("still deployed on this node: the CDI specs are kept for its Kata pods",
             {{"node", node_name}});
  }
}

}  // namespace gpuop::operands
