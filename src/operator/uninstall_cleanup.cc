#include "operator/uninstall_cleanup.h"

#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "api/labels.h"
#include "kube/resource.h"
#include "operator/active_policy.h"

namespace gpuop::op {
namespace {

// Labels the CC manager writes; nvidia.com/cc.mode is the admin's and stays.
constexpr const char* kCcAgentLabels[] = {"nvidia.com/cc.mode.state", "nvidia.com/cc.ready.state",
                                          "nvidia.com/cc.capable"};
// Annotations node agents write: the Kata manager's record and the CC manager's pause record.
constexpr const char* kAgentAnnotations[] = {api::kKataArtifactsAnnotation,
                                             "gpuop.io/cc-paused-labels"};
// The operand pods: the operator's DaemonSets label them part-of gpuop; the chart's own pods
// (operator, this Job) also carry the Helm instance label.
constexpr char kOperandPods[] = "app.kubernetes.io/part-of=gpuop,!app.kubernetes.io/instance";
// The chart's operator pods.
constexpr char kOperatorPods[] =
    "app.kubernetes.io/name=gpuop,app.kubernetes.io/component=operator";

bool IsOurLabel(std::string_view key) {
  if (key == api::kGpuPresentLabel) return true;
  if (key.starts_with(api::kDeployLabelPrefix)) return key != api::kDeployOperandsLabel;
  for (const char* label : kCcAgentLabels) {
    if (key == label) return true;
  }
  return false;
}

absl::Status ScaleOperatorToZero(kube::RestClient& client, const UninstallCleanupOptions& options) {
  absl::StatusOr<kube::json> scaled =
      client.MergePatch(kube::resources::kDeployments, options.operator_namespace,
                        options.operator_deployment, {{"spec", {{"replicas", 0}}}});
  if (scaled.ok() || absl::IsNotFound(scaled.status())) return absl::OkStatus();
  return scaled.status();
}

// Waits until the operator's pods are gone, terminating ones too: a replica still stopping
// would put the labels straight back (the Deployment's status stops counting a pod as soon as
// it is terminating). False on timeout or stop.
bool WaitForOperatorGone(kube::RestClient& client, const UninstallCleanupOptions& options,
                         const common::StopSignal& stop) {
  const auto until = std::chrono::steady_clock::now() + options.pods_timeout;
  while (std::chrono::steady_clock::now() < until) {
    absl::StatusOr<kube::ListPage> pods = client.ListAll(
        kube::resources::kPods, options.operator_namespace, {.label_selector = kOperatorPods});
    if (pods.ok() && pods->items.empty()) return true;
    if (stop.SleepFor(std::chrono::milliseconds(500))) return false;
  }
  return false;
}

absl::Status DeletePolicies(kube::RestClient& client, common::Logger& log) {
  absl::StatusOr<kube::ListPage> policies = client.ListAll(kClusterPolicies, "");
  if (!policies.ok()) {
    return absl::IsNotFound(policies.status()) ? absl::OkStatus() : policies.status();
  }
  for (const kube::json& policy : policies->items) {
    const std::string name = policy["metadata"].value("name", "");
    // The garbage collector then deletes what it owns: the operand objects.
    absl::Status deleted =
        client.Delete(kClusterPolicies, "", name, {.propagation_policy = "Background"});
    if (!deleted.ok() && !absl::IsNotFound(deleted)) return deleted;
    log.Info("deleted the ClusterPolicy", {{"name", name}});
  }
  return absl::OkStatus();
}

// Waits until no operand pod is left in the namespace; false on timeout or stop.
bool WaitForOperandPods(kube::RestClient& client, common::Logger& log,
                        const UninstallCleanupOptions& options, const common::StopSignal& stop) {
  const auto until = std::chrono::steady_clock::now() + options.pods_timeout;
  while (true) {
    absl::StatusOr<kube::ListPage> pods = client.ListAll(
        kube::resources::kPods, options.operator_namespace, {.label_selector = kOperandPods});
    if (pods.ok() && pods->items.empty()) return true;
    if (std::chrono::steady_clock::now() >= until) {
      log.Warn("operand pods still there; taking the node labels off anyway",
               {{"pods", pods.ok() ? std::to_string(pods->items.size()) : "unknown"}});
      return false;
    }
    if (stop.SleepFor(std::chrono::seconds(1))) return false;
  }
}

absl::Status TakeLabelsOff(kube::RestClient& client, common::Logger& log) {
  absl::StatusOr<kube::ListPage> nodes = client.ListAll(kube::resources::kNodes, "");
  if (!nodes.ok()) return nodes.status();
  int cleaned = 0;
  for (const kube::json& node : nodes->items) {
    const kube::json& metadata = node["metadata"];
    const kube::json patch =
        UninstallNodePatch(metadata.value("labels", kube::json::object()),
                           metadata.value("annotations", kube::json::object()));
    if (patch.is_null()) continue;
    const std::string name = metadata.value("name", "");
    absl::StatusOr<kube::json> patched =
        client.MergePatch(kube::resources::kNodes, "", name, patch);
    if (!patched.ok() && !absl::IsNotFound(patched.status())) {
      return absl::Status(patched.status().code(),
                          absl::StrCat("node ", name, ": ", patched.status().message()));
    }
    ++cleaned;
  }
  log.Info("gpuop's node labels taken off", {{"nodes", std::to_string(cleaned)}});
  return absl::OkStatus();
}

}  // namespace

kube::json UninstallNodePatch(const kube::json& labels, const kube::json& annotations) {
  kube::json patch_labels = kube::json::object();
  if (labels.is_object()) {
    for (const auto& [key, value] : labels.items()) {
      if (IsOurLabel(key)) patch_labels[key] = nullptr;
    }
  }
  kube::json patch_annotations = kube::json::object();
  if (annotations.is_object()) {
    for (const char* key : kAgentAnnotations) {
      if (annotations.contains(key)) patch_annotations[key] = nullptr;
    }
  }
  if (patch_labels.empty() && patch_annotations.empty()) return nullptr;
  kube::json metadata = kube::json::object();
  if (!patch_labels.empty()) metadata["labels"] = patch_labels;
  if (!patch_annotations.empty()) metadata["annotations"] = patch_annotations;
  return {{"metadata", metadata}};
}

absl::Status RunUninstallCleanup(kube::RestClient& client, common::Logger& log,
                                 const UninstallCleanupOptions& options,
                                 const common::StopSignal& stop) {
  if (absl::Status scaled = ScaleOperatorToZero(client, options); !scaled.ok()) {
    return absl::Status(scaled.code(), absl::StrCat("scale the operator to 0: ", scaled.message()));
  }
  if (!WaitForOperatorGone(client, options, stop)) {
    return absl::DeadlineExceededError("the operator's pods did not stop; nothing was changed");
  }
  log.Info("operator scaled to 0", {{"deployment", options.operator_deployment}});
  if (absl::Status taken = TakeLabelsOff(client, log); !taken.ok()) {
    return absl::Status(taken.code(), absl::StrCat("take gpuop's labels off: ", taken.message()));
  }
  WaitForOperandPods(client, log, options, stop);
  if (absl::Status deleted = DeletePolicies(client, log); !deleted.ok()) {
    return absl::Status(deleted.code(),
                        absl::StrCat("delete the ClusterPolicies: ", deleted.message()));
  }
  return absl::OkStatus();
}

}  // namespace gpuop::op
