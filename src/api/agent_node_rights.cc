#include "api/agent_node_rights.h"

#include <string_view>

#include "api/labels.h"
#include "api/paused_operands.h"

namespace gpuop::api {
namespace {

// The CC manager's keys: the CC state it reports, the deploy labels it pauses around a mode
// switch (only those; it restores no other from its record), and the record itself.
AgentNodeRights CcManagerRights() {
  AgentNodeRights rights{"nvidia-cc-manager",
                         {kCcCapableLabel, kCcModeStateLabel, kCcReadyStateLabel},
                         {kPausedLabelsAnnotation}};
  for (const PausedOperand& operand : PausedOperands()) rights.labels.push_back(operand.label);
  return rights;
}

// NVIDIA's MIG manager: its progress, and the deploy labels of the operands that hold the GPUs,
// which it pauses around a repartition (paused-for-mig-change) and sets back. nvsm is NVIDIA's
// system management agent, which gpuop does not deploy but the manager pauses where it runs.
AgentNodeRights MigManagerRights() {
  AgentNodeRights rights{"nvidia-mig-manager", {kMigConfigStateLabel}, {}};
  for (const char* operand : {operand::kDevicePlugin, operand::kGpuFeatureDiscovery,
                              operand::kDcgmExporter, operand::kDcgm, "nvsm"}) {
    rights.labels.push_back(DeployLabelOf(operand));
  }
  return rights;
}

// A CEL list of single-quoted strings. Keys are label and annotation names, which hold no quote
// or backslash (Kubernetes' qualified-name rule), so no escaping is needed.
std::string CelList(const std::vector<std::string>& items) {
  std::string list = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) list += ", ";
    list += "'" + items[i] + "'";
  }
  return list + "]";
}

constexpr std::string_view kTemplateHeader =
    "{{/*\n"
    "Generated from src/api/agent_node_rights.cc (api::AgentNodeRightsTable): do not edit.\n"
    "What each node agent may change on its own Node, for agent-admission-policy.yaml.\n"
    "tests/unit/api/agent_node_rights_test.cc fails when this file and the table differ and\n"
    "says how to write it again (GPUOP_WRITE_GENERATED=1).\n"
    "*/}}\n";

}  // namespace

const std::vector<AgentNodeRights>& AgentNodeRightsTable() {
  static const auto* const table = new std::vector<AgentNodeRights>{
      CcManagerRights(),
      // NVIDIA's container-path operands that read Nodes and write none.
      {"nvidia-container-toolkit", {}, {}},
      {"nvidia-dcgm", {}, {}},
      {"nvidia-dcgm-exporter", {}, {}},
      {"nvidia-device-plugin", {}, {}},
      {"nvidia-gpu-feature-discovery", {}, {}},
      {"nvidia-kata-manager", {}, {kKataArtifactsAnnotation}},
      {"nvidia-kata-sandbox-device-plugin", {}, {}},
      MigManagerRights(),
      {"nvidia-node-status-exporter", {}, {}},
      {"nvidia-operator-validator", {}, {}},
      {"nvidia-sandbox-device-plugin", {}, {}},
      {"nvidia-sandbox-validator", {}, {}},
      {"nvidia-vfio-manager", {}, {}},
  };
  return *table;
}

std::string RenderAgentNodeRightsTemplate() {
  std::string map = "{";
  const std::vector<AgentNodeRights>& table = AgentNodeRightsTable();
  for (size_t i = 0; i < table.size(); ++i) {
    if (i > 0) map += ", ";
    map += "'system:serviceaccount:{{ .Release.Namespace }}:" + table[i].service_account +
           "': {'labels': " + CelList(table[i].labels) +
           ", 'annotations': " + CelList(table[i].annotations) + "}";
  }
  map += "}";
  return std::string(kTemplateHeader) + "{{- define \"gpuop.agentNodeRights\" -}}\n" + map +
         "\n{{- end }}\n";
}

}  // namespace gpuop::api
