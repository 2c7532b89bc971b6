#pragma once

// What each node agent may change on a Node: the one table the chart's admission policy
// (deployments/helm/gpuop/templates/agent-admission-policy.yaml) is built from, so that an agent
// that starts writing a new key gets it here or is refused by the API server. The chart's copy,
// templates/_agent_node_rights.tpl, is generated from this table (RenderAgentNodeRightsTemplate)
// and a unit test fails when the two differ.
//
// An agent may change only its own Node (the node its pod's token is bound to), only these keys
// (add, change or remove), and nothing else of the Node: spec, taints, status, finalizers and
// owner references stay as they are. An agent with no keys writes no Node at all.

#include <string>
#include <vector>

namespace gpuop::api {

struct AgentNodeRights {
  std::string service_account;           // as deployments/operands/state-*/0100 names it
  std::vector<std::string> labels;       // label keys it writes
  std::vector<std::string> annotations;  // annotation keys it writes
};

// Every node agent's ServiceAccount, sorted by name, including those that write nothing.
const std::vector<AgentNodeRights>& AgentNodeRightsTable();

// The one node agent the policy does not match: NVIDIA's driver manager (state-driver's
// ServiceAccount) cordons and uncordons its node (spec.unschedulable) around a driver change,
// which the policy's rule "spec stays as it is" would refuse. It keeps the rights NVIDIA's
// operator gives it (docs/security.md).
inline constexpr char kUnconfinedNodeAgent[] = "nvidia-driver";

// The Helm named template "gpuop.agentNodeRights": a CEL map from each agent's user name
// ("system:serviceaccount:<release namespace>:<account>") to {'labels': [...], 'annotations':
// [...]}, on one line. The whole file's text, header comment included.
std::string RenderAgentNodeRightsTemplate();

}  // namespace gpuop::api
