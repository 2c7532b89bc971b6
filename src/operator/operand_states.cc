#include "operator/operand_states.h"

namespace gpuop::op {
namespace {

bool Sandbox(const api::ClusterPolicy& p) { return p.sandbox_enabled; }
bool Kata(const api::ClusterPolicy& p) {
  return p.sandbox_enabled && p.sandbox_mode == api::SandboxMode::kKata;
}
bool Kubevirt(const api::ClusterPolicy& p) {
  return p.sandbox_enabled && p.sandbox_mode == api::SandboxMode::kKubevirt;
}

}  // namespace

const std::vector<OperandState>& OperandStates() {
  // Sections whose `enabled` is unset count as off, as in NVIDIA's operator (nil = false).
  static const std::vector<OperandState> states = {
      {"pre-requisites", "", ImageSource::kNone, [](const api::ClusterPolicy&) { return true; }},
      // The container path. NVIDIA's nil defaults: driver, toolkit, device plugin and GFD on;
      // the validator always. Each DaemonSet selects on its deploy label, which only container
      // nodes get, so a fleet without them runs none of these pods.
      {"state-driver", "driver", ImageSource::kPolicy,
       [](const api::ClusterPolicy& p) { return p.OperandEnabled("driver", true); }},
      {"state-container-toolkit", "toolkit", ImageSource::kPolicy,
       [](const api::ClusterPolicy& p) { return p.OperandEnabled("toolkit", true); }},
      {"state-operator-validation", "validator", ImageSource::kGpuop,
       [](const api::ClusterPolicy&) { return true; }},
      {"state-device-plugin", "devicePlugin", ImageSource::kPolicy,
       [](const api::ClusterPolicy& p) { return p.OperandEnabled("devicePlugin", true); }},
      // The device plugin's image and switch, as NVIDIA's; its DaemonSet also selects on
      // nvidia.com/mps.capable=true, which GPU feature discovery sets.
      {"state-mps-control-daemon", "devicePlugin", ImageSource::kPolicy,
       [](const api::ClusterPolicy& p) { return p.OperandEnabled("devicePlugin", true); }},
      // NVIDIA's nil defaults turn both on (their chart turns the host engine off): the
      // exporter then runs an engine of its own.
      {"state-dcgm", "dcgm", ImageSource::kPolicy,
       [](const api::ClusterPolicy& p) { return p.OperandEnabled("dcgm", true); }},
      {"state-dcgm-exporter", "dcgmExporter", ImageSource::kPolicy,
       [](const api::ClusterPolicy& p) { return p.OperandEnabled("dcgmExporter", true); }},
      {"gpu-feature-discovery", "gfd", ImageSource::kPolicy,
       [](const api::ClusterPolicy& p) { return p.OperandEnabled("gfd", true); }},
      // Only MIG-capable container nodes get its deploy label.
      {"state-mig-manager", "migManager", ImageSource::kPolicy,
       [](const api::ClusterPolicy& p) { return p.OperandEnabled("migManager", true); }},
      // gpuop's own binary in the validator's metrics mode; off unless enabled, as NVIDIA's.
      {"state-node-status-exporter", "nodeStatusExporter", ImageSource::kGpuop,
       [](const api::ClusterPolicy& p) { return p.OperandEnabled("nodeStatusExporter"); }},
      {"state-sandbox-validation", "validator", ImageSource::kGpuop, Sandbox},
      {"state-vfio-manager", "vfioManager", ImageSource::kGpuop,
       [](const api::ClusterPolicy& p) { return Sandbox(p) && p.OperandEnabled("vfioManager"); }},
      {"state-sandbox-device-plugin", "sandboxDevicePlugin", ImageSource::kPolicy,
       [](const api::ClusterPolicy& p) {
         return Kubevirt(p) && p.OperandEnabled("sandboxDevicePlugin");
       }},
      {"state-kata-device-plugin", "kataSandboxDevicePlugin", ImageSource::kGpuop,
       [](const api::ClusterPolicy& p) {
         return Kata(p) && p.OperandEnabled("kataSandboxDevicePlugin");
       }},
      {"state-kata-manager", "kataManager", ImageSource::kGpuop,
       [](const api::ClusterPolicy& p) { return Sandbox(p) && p.OperandEnabled("kataManager"); }},
      {"state-cc-manager", "ccManager", ImageSource::kGpuop,
       [](const api::ClusterPolicy& p) { return Kata(p) && p.OperandEnabled("ccManager"); }},
      {"nfd-rules", "", ImageSource::kNone,
       [](const api::ClusterPolicy& p) { return p.nfd_node_feature_rules; }},
  };
  return states;
}

}  // namespace gpuop::op
