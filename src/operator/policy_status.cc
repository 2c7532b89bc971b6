#include "operator/policy_status.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "api/labels.h"

namespace gpuop::op {
namespace {

using nlohmann::json;

constexpr size_t kNodesNamedInMessage = 10;

struct Verdict {
  std::string state;
  bool ready = false;
  std::string reason;
  std::string message;
};

Verdict Decide(const PolicyFacts& facts) {
  if (facts.name != facts.active_name) {
    return {"ignored", false, "Ignored",
            absl::StrCat("ClusterPolicy ", facts.active_name,
                         " is older and rules the cluster; this one is not used")};
  }
  if (!facts.parse_error.empty()) return {"notReady", false, "InvalidSpec", facts.parse_error};
  if (!facts.operands.error.empty()) {
    return {"notReady", false, "ReconcileFailed", facts.operands.error};
  }
  if (!facts.operands.config_problems.empty()) {
    std::vector<std::string> messages;
    for (const ConfigProblem& problem : facts.operands.config_problems) {
      messages.push_back(problem.message);
    }
    return {"notReady", false, facts.operands.config_problems.front().reason,
            absl::StrJoin(messages, "; ")};
  }
  if (!facts.invalid_nodes.empty()) {
    std::vector<std::string> named;
    for (const auto& [node, value] : facts.invalid_nodes) {
      if (named.size() == kNodesNamedInMessage) break;
      named.push_back(absl::StrCat(node, " (\"", value, "\")"));
    }
    std::string message =
        absl::StrCat(facts.invalid_nodes.size(), " GPU node(s) have a ", api::kWorkloadConfigLabel,
                     " that is not container, vm-passthrough or vm-vgpu and get no operands: ",
                     absl::StrJoin(named, ", "));
    if (facts.invalid_nodes.size() > named.size()) {
      absl::StrAppend(&message, " and ", facts.invalid_nodes.size() - named.size(), " more");
    }
    return {"notReady", false, "InvalidWorkloadConfig", message};
  }
  if (!facts.operands.not_ready.empty()) {
    const size_t shown = std::min(facts.operands.not_ready.size(), kNodesNamedInMessage);
    std::vector<std::string> named(
        facts.operands.not_ready.begin(),
        facts.operands.not_ready.begin() + static_cast<std::ptrdiff_t>(shown));
    std::string message = absl::StrCat("operands not ready: ", absl::StrJoin(named, "; "));
    if (facts.operands.not_ready.size() > named.size()) {
      absl::StrAppend(&message, " and ", facts.operands.not_ready.size() - named.size(), " more");
    }
    return {"notReady", false, "OperandNotReady", message};
  }
  int gpu_nodes = 0;
  std::vector<std::string> counts;
  for (const auto& [workload, count] : facts.gpu_nodes_by_workload) {
    gpu_nodes += count;
    counts.push_back(absl::StrCat(count, " ", workload));
  }
  // NVIDIA's operator too stays ready without GPU nodes, but says when NFD is what is missing:
  // routing finds GPUs through NFD's PCI labels, so without NFD no GPU node is ever seen.
  if (gpu_nodes == 0 && facts.nodes_with_nfd_labels == 0) {
    return {"ready", true, "NFDLabelsMissing",
            absl::StrCat("no node has Node Feature Discovery labels (", api::kNfdLabelPrefix,
                         "*), so no GPU node is seen: install NFD (the chart's nfd.enabled=true) "
                         "or label each GPU node ",
                         api::kGpuPresentLabel, "=true")};
  }
  if (gpu_nodes == 0) {
    return {"ready", true, "NoGPUNodes",
            absl::StrCat("no GPU nodes in the cluster yet: Node Feature Discovery labelled ",
                         facts.nodes_with_nfd_labels, " node(s), none with an NVIDIA PCI device (",
                         api::kNfdNvidiaPciLabels[0], "=true)")};
  }
  return {"ready", true, "Reconciled",
          absl::StrCat(gpu_nodes, " GPU node(s) routed: ", absl::StrJoin(counts, ", "))};
}

// The condition as it was, or null.
const json* FindCondition(const json& status, const std::string& type) {
  if (!status.is_object() || !status.contains("conditions") || !status["conditions"].is_array()) {
    return nullptr;
  }
  for (const json& condition : status["conditions"]) {
    if (condition.is_object() && condition.value("type", json()) == type) return &condition;
  }
  return nullptr;
}

json Condition(const json& current_status, const std::string& type, bool value,
               const Verdict& verdict, const std::string& now) {
  const std::string status = value ? "True" : "False";
  std::string since = now;
  if (const json* before = FindCondition(current_status, type);
      before != nullptr && before->value("status", json()) == status &&
      before->contains("lastTransitionTime") && (*before)["lastTransitionTime"].is_string()) {
    since = (*before)["lastTransitionTime"].get<std::string>();
  }
  return {{"type", type},
          {"status", status},
          {"reason", verdict.reason},
          {"message", verdict.message},
          {"lastTransitionTime", since}};
}

json WithoutTimes(json status) {
  if (status.is_object() && status.contains("conditions") && status["conditions"].is_array()) {
    for (json& condition : status["conditions"]) {
      if (condition.is_object()) condition.erase("lastTransitionTime");
    }
  }
  return status;
}

}  // namespace

json PolicyStatus(const PolicyFacts& facts, const json& current_status, const std::string& now) {
  Verdict verdict = Decide(facts);
  // What was left out on purpose does not hold readiness back, but the admin reads it here.
  if (verdict.ready && !facts.operands.notes.empty()) {
    absl::StrAppend(&verdict.message, "; note: ", absl::StrJoin(facts.operands.notes, "; "));
  }
  return {{"state", verdict.state},
          {"namespace", facts.operator_namespace},
          {"conditions",
           {Condition(current_status, "Ready", verdict.ready, verdict, now),
            Condition(current_status, "Error", !verdict.ready && verdict.state != "ignored",
                      verdict, now)}}};
}

bool StatusDiffers(const json& a, const json& b) { return WithoutTimes(a) != WithoutTimes(b); }

}  // namespace gpuop::op
