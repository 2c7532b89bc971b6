#include "operator/fleet_status.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

#include "api/labels.h"

namespace gpuop::op {
namespace {

using json = nlohmann::json;

std::string Text(const json& object, const char* key, std::string fallback = "") {
  if (!object.is_object()) return fallback;
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : fallback;
}

const json& EmptyObject() {
  static const json* const empty = new json(json::object());
  return *empty;
}

const json& Field(const json& object, const char* key) {
  if (!object.is_object()) return EmptyObject();
  const auto found = object.find(key);
  return found != object.end() ? *found : EmptyObject();
}

// The active policy: the oldest, ties broken by name, as the operator picks it.
const json* Oldest(const json& policies) {
  const json* oldest = nullptr;
  for (const json& policy : policies) {
    const json& metadata = Field(policy, "metadata");
    if (oldest == nullptr) {
      oldest = &policy;
      continue;
    }
    const json& best = Field(*oldest, "metadata");
    const auto key = [](const json& m) {
      return std::make_pair(Text(m, "creationTimestamp"), Text(m, "name"));
    };
    if (key(metadata) < key(best)) oldest = &policy;
  }
  return oldest;
}

}  // namespace

FleetStatus SummarizeFleet(const json& policies, const json& nodes) {
  FleetStatus status;
  const json* policy = policies.is_array() ? Oldest(policies) : nullptr;
  if (policy == nullptr) {
    status.text = "no ClusterPolicy: gpuop has nothing to do (helm install creates one)\n";
  } else {
    const json& policy_status = Field(*policy, "status");
    const std::string state = Text(policy_status, "state", "unknown");
    status.ready = state == "ready";
    absl::StrAppend(&status.text, "ClusterPolicy ", Text(Field(*policy, "metadata"), "name"), ": ",
                    state, "\n");
    const json& conditions = Field(policy_status, "conditions");
    if (conditions.is_array()) {
      for (const json& condition : conditions) {
        absl::StrAppend(&status.text, "  ", Text(condition, "type"), "=", Text(condition, "status"),
                        " ", Text(condition, "reason"), ": ", Text(condition, "message"), "\n");
      }
    }
  }
  std::vector<std::vector<std::string>> rows = {{"NODE", "WORKLOAD", "OPERANDS", "CC MODE"}};
  if (nodes.is_array()) {
    for (const json& node : nodes) {
      const json& labels = Field(Field(node, "metadata"), "labels");
      if (Text(labels, api::kGpuPresentLabel) != "true") continue;
      std::vector<std::string> operands;
      for (const auto& [key, value] : labels.items()) {
        if (!absl::StartsWith(key, api::kDeployLabelPrefix) || key == api::kDeployOperandsLabel ||
            !value.is_string() || value.get<std::string>() == "false") {
          continue;
        }
        std::string name = key.substr(std::string_view(api::kDeployLabelPrefix).size());
        // A paused operand shows its pause: it is not running now.
        if (absl::StrContains(value.get<std::string>(), "paused"))
          absl::StrAppend(&name, "(paused)");
        operands.push_back(std::move(name));
      }
      std::sort(operands.begin(), operands.end());
      const std::string cc_state = Text(labels, "nvidia.com/cc.mode.state");
      rows.push_back({Text(Field(node, "metadata"), "name"),
                      Text(labels, api::kWorkloadConfigLabel, "(default)"),
                      operands.empty() ? "-" : absl::StrJoin(operands, ","),
                      cc_state.empty() ? "-" : cc_state});
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
  return status;
}

}  // namespace gpuop::op
