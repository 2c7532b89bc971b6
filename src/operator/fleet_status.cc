#include "operator/fleet_status.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

#include "api/labels.h"
#include "kube/json_fields.h"

namespace gpuop::op {
namespace {

using json = nlohmann::json;

// The app label of the DCGM exporter's pods (deployments/operands/state-dcgm-exporter).
constexpr char kDcgmExporterPodApp[] = "nvidia-dcgm-exporter";

// A string field, or `fallback` when it is missing or empty.
std::string TextOr(const json& object, const char* key, const std::string& fallback) {
  std::string text = kube::StringField(object, key);
  return text.empty() ? fallback : text;
}

// The active policy: the oldest, ties broken by name, as the operator picks it.
const json* Oldest(const json& policies) {
  const json* oldest = nullptr;
  for (const json& policy : policies) {
    const json& metadata = kube::ObjectField(policy, "metadata");
    if (oldest == nullptr) {
      oldest = &policy;
      continue;
    }
    const json& best = kube::ObjectField(*oldest, "metadata");
    const auto key = [](const json& m) {
      return std::make_pair(kube::StringField(m, "creationTimestamp"),
                            kube::StringField(m, "name"));
    };
    if (key(metadata) < key(best)) oldest = &policy;
  }
  return oldest;
}

// Why a pod is not ready, in kubectl's words: Terminating, else the init container still running
// ("Init:<name> running"), else the first waiting or failed container's reason (init containers
// first, as "Init:<reason>"), else its phase.
std::string NotReadyReason(const json& pod) {
  if (kube::ObjectField(pod, "metadata").contains("deletionTimestamp")) return "Terminating";
  const json& status = kube::ObjectField(pod, "status");
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    const auto containers = status.find(list);
    if (containers == status.end() || !containers->is_array()) continue;
    const bool init = std::string_view(list) == "initContainerStatuses";
    for (const json& container : *containers) {
      const json& state = kube::ObjectField(container, "state");
      // An init container still at work: the step the pod waits on (a validator's wait).
      if (init && state.contains("running")) {
        return absl::StrCat("Init:", kube::StringField(container, "name"), " running");
      }
      std::string reason = kube::StringField(kube::ObjectField(state, "waiting"), "reason");
      if (reason.empty()) {
        const json& terminated = kube::ObjectField(state, "terminated");
        if (terminated.is_object() && !terminated.empty() &&
            kube::StringField(terminated, "reason") != "Completed") {
          reason = TextOr(terminated, "reason", "Terminated");
        }
      }
      if (!reason.empty()) return init ? "Init:" + reason : reason;
    }
  }
  return TextOr(status, "phase", "Pending");
}

// Ready, and not on its way out: a Terminating pod can still say Ready.
bool PodReady(const json& pod) {
  if (kube::ObjectField(pod, "metadata").contains("deletionTimestamp")) return false;
  const json& status = kube::ObjectField(pod, "status");
  const auto conditions = status.find("conditions");
  if (conditions == status.end() || !conditions->is_array()) return false;
  for (const json& condition : *conditions) {
    if (kube::StringField(condition, "type") == "Ready") {
      return kube::StringField(condition, "status") == "True";
    }
  }
  return false;
}

// The MIG column: the layout the node's label asks for and the MIG manager's report on it
// ("all-1g.10gb: success"); "reconfiguring" while the manager holds operands paused for it,
// which is work in progress, not a fault; "-" on a node without a layout.
std::string MigColumn(const json& labels, bool paused_for_mig) {
  const std::string config = kube::StringField(labels, api::kMigConfigLabel);
  const std::string state = kube::StringField(labels, api::kMigConfigStateLabel);
  if (paused_for_mig) return absl::StrCat(config.empty() ? "?" : config, ": reconfiguring");
  if (config.empty()) return "-";
  return absl::StrCat(config, ": ", state.empty() ? "not applied yet" : state);
}

// The SHARING column: the device plugin config the node's label picks ("(default)" without one)
// and the sharing GPU feature discovery reports with its replicas ("ts: time-slicing x4").
std::string SharingColumn(const json& labels) {
  std::string config = kube::StringField(labels, api::kDevicePluginConfigLabel);
  if (config.empty()) config = "(default)";
  const std::string strategy = kube::StringField(labels, api::kGpuSharingStrategyLabel);
  if (strategy.empty() || strategy == "none") return config;
  const std::string replicas = kube::StringField(labels, api::kGpuReplicasLabel);
  return absl::StrCat(config, ": ", strategy, replicas.empty() ? "" : " x", replicas);
}

}  // namespace

std::string OperatorNamespaceOf(const json& policies) {
  const json* policy = policies.is_array() ? Oldest(policies) : nullptr;
  if (policy == nullptr) return "";
  return kube::StringField(kube::ObjectField(*policy, "status"), "namespace");
}

FleetStatus SummarizeFleet(const json& policies, const json& nodes, const json& pods) {
  FleetStatus status;
  // Per node: ready pods, all pods, and "<pod>: <why>" for each one not ready.
  struct NodePods {
    int ready = 0;
    int total = 0;
    std::vector<std::string> not_ready;
    std::optional<bool> exporter_ready;  // The DCGM exporter's pod, when there is one.
  };
  std::map<std::string, NodePods> pods_on;
  if (pods.is_array()) {
    for (const json& pod : pods) {
      const std::string node = kube::StringField(kube::ObjectField(pod, "spec"), "nodeName");
      if (node.empty()) continue;
      NodePods& counts = pods_on[node];
      ++counts.total;
      const json& pod_labels = kube::ObjectField(kube::ObjectField(pod, "metadata"), "labels");
      if (kube::StringField(pod_labels, "app") == kDcgmExporterPodApp) {
        counts.exporter_ready = counts.exporter_ready.value_or(false) || PodReady(pod);
      }
      if (PodReady(pod)) {
        ++counts.ready;
      } else {
        counts.not_ready.push_back(
            absl::StrCat(kube::StringField(kube::ObjectField(pod, "metadata"), "name"), ": ",
                         NotReadyReason(pod)));
      }
    }
  }
  const json* policy = policies.is_array() ? Oldest(policies) : nullptr;
  if (policy == nullptr) {
    status.text = "no ClusterPolicy: gpuop has nothing to do (helm install creates one)\n";
  } else {
    const json& policy_status = kube::ObjectField(*policy, "status");
    const std::string state = TextOr(policy_status, "state", "unknown");
    status.ready = state == "ready";
    absl::StrAppend(&status.text, "ClusterPolicy ",
                    kube::StringField(kube::ObjectField(*policy, "metadata"), "name"), ": ", state,
                    "\n");
    const auto conditions = policy_status.find("conditions");
    if (conditions != policy_status.end() && conditions->is_array()) {
      for (const json& condition : *conditions) {
        absl::StrAppend(&status.text, "  ", kube::StringField(condition, "type"), "=",
                        kube::StringField(condition, "status"), " ",
                        kube::StringField(condition, "reason"), ": ",
                        kube::StringField(condition, "message"), "\n");
      }
    }
  }
  std::vector<std::vector<std::string>> rows = {
      {"NODE", "WORKLOAD", "OPERANDS", "PODS READY", "CC MODE", "MIG", "SHARING", "EXPORTER"}};
  std::vector<std::string> not_ready_lines;
  if (nodes.is_array()) {
    for (const json& node : nodes) {
      const json& labels = kube::ObjectField(kube::ObjectField(node, "metadata"), "labels");
      if (kube::StringField(labels, api::kGpuPresentLabel) != "true") continue;
      std::vector<std::string> operands;
      bool paused_for_mig = false;
      for (const auto& [key, value] : labels.items()) {
        if (!absl::StartsWith(key, api::kDeployLabelPrefix) || key == api::kDeployOperandsLabel ||
            !value.is_string() || value.get<std::string>() == "false") {
          continue;
        }
        std::string name = key.substr(std::string_view(api::kDeployLabelPrefix).size());
        if (value.get<std::string>() == api::kPausedForMigChange) paused_for_mig = true;
        // A paused operand shows its pause: it is not running now.
        if (api::IsPausedValue(value.get<std::string>())) absl::StrAppend(&name, "(paused)");
        operands.push_back(std::move(name));
      }
      std::sort(operands.begin(), operands.end());
      const std::string cc_state = kube::StringField(labels, api::kCcModeStateLabel);
      const std::string name = kube::StringField(kube::ObjectField(node, "metadata"), "name");
      const auto on_node = pods_on.find(name);
      std::string pods_ready = "-";
      std::string exporter = "-";
      if (on_node != pods_on.end()) {
        if (on_node->second.exporter_ready)
          exporter = *on_node->second.exporter_ready ? "up" : "down";
        pods_ready = absl::StrCat(on_node->second.ready, "/", on_node->second.total);
        for (const std::string& line : on_node->second.not_ready) {
          not_ready_lines.push_back(absl::StrCat("  ", name, "  ", line));
        }
      }
      rows.push_back({name, TextOr(labels, api::kWorkloadConfigLabel, "(default)"),
                      operands.empty() ? "-" : absl::StrJoin(operands, ","), pods_ready,
                      cc_state.empty() ? "-" : cc_state, MigColumn(labels, paused_for_mig),
                      SharingColumn(labels), exporter});
    }
  }
  if (rows.size() == 1) {
    absl::StrAppend(&status.text, "no GPU nodes (nvidia.com/gpu.present=true)\n");
    return status;
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line,
                      i + 1 < row.size() ? absl::StrFormat("%-*s  ", widths[i], row[i]) : row[i]);
    }
    absl::StrAppend(&status.text, line, "\n");
  }
  if (!not_ready_lines.empty()) {
    absl::StrAppend(&status.text, "operand pods not ready:\n", absl::StrJoin(not_ready_lines, "\n"),
                    "\n");
  }
  return status;
}

}  // namespace gpuop::op
