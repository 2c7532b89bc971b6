#include "operator/uninstall_cleanup.h"

#include <string_view>

#include "absl/strings/str_cat.h"

#include "api/labels.h"
#include "common/clock.h"
#include "kube/resource.h"
#include "operator/active_policy.h"

namespace gpuop::op {
namespace {

// Labels the CC manager writes; nvidia.com/cc.mode is the admin's and stays.
constexpr const char* kCcAgentLabels[] = {api::kCcModeStateLabel, api::kCcReadyStateLabel,
                                          api::kCcCapableLabel};
// Annotations node agents write: the Kata manager's record and the CC manager's pause record.
constexpr const char* kAgentAnnotations[] = {api::kKataArtifactsAnnotation,
                                             api::kPausedLabelsAnnotation};
// The operand pods: the operator's DaemonSets label them part-of gpuop; the chart's own pods
// (operator, this Job) also carry the Helm instance label.
constexpr char kOperandPods[] = "app.kubernetes.io/part-of=gpuop,!app.kubernetes.io/instance";
// The chart's operator pods.
constexpr char kOperatorPods[] =
    "app.kubernetes.io/name=gpuop,app.kubernetes.io/component=operator";

bool HasNfdGpuLabel(const kube::json& labels) {
  for (const char* label : api::kNfdNvidiaPciLabels) {
    if (labels.contains(label)) return true;
  }
  return false;
}

// Whether gpuop wrote this label with this value. The admin's own stay: a deploy label set to
// "false" to keep an operand off a node, and gpu.present on a node without NFD's labels (where
// the admin set it by hand: nothing else could have).
bool IsOurLabel(std::string_view key, const std::string& value, bool nfd_labelled) {
  if (key == api::kGpuPresentLabel) return nfd_labelled;
  if (key.starts_with(api::kDeployLabelPrefix)) {
    return key != api::kDeployOperandsLabel && (value == "true" || api::IsPausedValue(value));
  }
  for (const char* label : kCcAgentLabels) {
    if (key == label) return true;
  }
  return false;
}

absl::Status ScaleOperator(kube::RestClient& client, const UninstallCleanupOptions& options,
                           int64_t replicas) {
  absl::StatusOr<kube::json> scaled =
      client.MergePatch(kube::resources::kDeployments, options.operator_namespace,
                        options.operator_deployment, {{"spec", {{"replicas", replicas}}}});
  if (scaled.ok() || absl::IsNotFound(scaled.status())) return absl::OkStatus();
  return scaled.status();
}

// The operator's replica count now; 0 when it has no Deployment (nothing to give back).
absl::StatusOr<int64_t> OperatorReplicas(kube::RestClient& client,
                                         const UninstallCleanupOptions& options) {
  absl::StatusOr<kube::json> deployment = client.Get(
      kube::resources::kDeployments, options.operator_namespace, options.operator_deployment);
  if (absl::IsNotFound(deployment.status())) return 0;
  if (!deployment.ok()) return deployment.status();
  const kube::json& spec = (*deployment)["spec"];
  return spec.is_object() ? spec.value("replicas", int64_t{1}) : int64_t{1};
}

// Waits until the operator's pods are gone, terminating ones too: a replica still stopping
// would put the labels straight back (the Deployment's status stops counting a pod as soon as
// it is terminating). False on timeout or stop.
bool WaitForOperatorGone(kube::RestClient& client, const UninstallCleanupOptions& options,
                         const common::StopSignal& stop) {
  const auto until = common::SteadyClock::Instance().Now() + options.pods_timeout;
  while (common::SteadyClock::Instance().Now() < until) {
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
  const auto until = common::SteadyClock::Instance().Now() + options.pods_timeout;
  while (true) {
    absl::StatusOr<kube::ListPage> pods = client.ListAll(
        kube::resources::kPods, options.operator_namespace, {.label_selector = kOperandPods});
    if (pods.ok() && pods->items.empty()) return true;
    if (common::SteadyClock::Instance().Now() >= until) {
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
  absl::Status first_error;
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
      // The other nodes are still cleaned; the first failure is reported at the end.
      log.Error("cannot take gpuop's labels off a node",
                {{"node", name}, {"error", std::string(patched.status().message())}});
      if (first_error.ok()) {
        first_error = absl::Status(patched.status().code(),
                                   absl::StrCat("node ", name, ": ", patched.status().message()));
      }
      continue;
    }
    ++cleaned;
  }
  log.Info("gpuop's node labels taken off", {{"nodes", std::to_string(cleaned)}});
  return first_error;
}

}  // namespace

kube::json UninstallNodePatch(const kube::json& labels, const kube::json& annotations) {
  kube::json patch_labels = kube::json::object();
  if (labels.is_object()) {
    const bool nfd_labelled = HasNfdGpuLabel(labels);
    for (const auto& [key, value] : labels.items()) {
      if (IsOurLabel(key, value.is_string() ? value.get<std::string>() : "", nfd_labelled)) {
        patch_labels[key] = nullptr;
      }
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
  absl::StatusOr<int64_t> replicas = OperatorReplicas(client, options);
  if (!replicas.ok()) {
    return absl::Status(replicas.status().code(),
                        absl::StrCat("read the operator's Deployment: ",
                                     replicas.status().message(), "; nothing was changed"));
  }
  if (absl::Status scaled = ScaleOperator(client, options, 0); !scaled.ok()) {
    return absl::Status(scaled.code(), absl::StrCat("scale the operator to 0: ", scaled.message(),
                                                    "; nothing was changed"));
  }
  // From here a failure gives the operator back, so that a failed uninstall leaves a working
  // install (helm uninstall stops at a failed hook).
  const auto give_back = [&](absl::Status failure) {
    if (*replicas > 0) {
      if (absl::Status restored = ScaleOperator(client, options, *replicas); !restored.ok()) {
        log.Error("cannot scale the operator back; run: kubectl scale deployment",
                  {{"deployment", options.operator_deployment},
                   {"replicas", std::to_string(*replicas)},
                   {"error", std::string(restored.message())}});
      }
    }
    return failure;
  };
  if (!WaitForOperatorGone(client, options, stop)) {
    return give_back(absl::DeadlineExceededError("the operator's pods did not stop"));
  }
  log.Info("operator scaled to 0", {{"deployment", options.operator_deployment}});
  if (absl::Status taken = TakeLabelsOff(client, log); !taken.ok()) {
    return give_back(
        absl::Status(taken.code(), absl::StrCat("take gpuop's labels off: ", taken.message())));
  }
  WaitForOperandPods(client, log, options, stop);
  if (absl::Status deleted = DeletePolicies(client, log); !deleted.ok()) {
    return give_back(absl::Status(deleted.code(),
                                  absl::StrCat("delete the ClusterPolicies: ", deleted.message())));
  }
  // An agent that was mid-work when it was told to stop (a CC switch restoring the labels it
  // paused) may have written labels back; with the policy gone nothing can any more.
  WaitForOperandPods(client, log, options, stop);
  return TakeLabelsOff(client, log);
}

}  // namespace gpuop::op
