#include "operands/validator/cuda_validation.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "common/atomic_file.h"
#include "common/printable.h"
#include "kube/json_fields.h"

namespace gpuop::operands {
namespace {

using nlohmann::json;

constexpr char kContainerName[] = "cuda-validation";

// Pod messages come from the kubelet and the container: quoted, and short.
std::string Quote(const std::string& text) { return common::Printable(text, 200); }

// The owners of the DaemonSet, for the pod: the same objects, but without blockOwnerDeletion,
// which the OwnerReferencesPermissionEnforcement admission plugin (on in OpenShift) allows only
// to those who may update the owner's finalizers. Deletion still takes the pod with its owner.
json OwnersForPod(const json& owners) {
  json copied = json::array();
  if (!owners.is_array()) return copied;
  for (const json& owner : owners) {
    if (!owner.is_object()) continue;
    json reference = owner;
    reference.erase("blockOwnerDeletion");
    copied.push_back(std::move(reference));
  }
  return copied;
}

// Fills in the tolerations and owners of the validator DaemonSet, when there is one.
absl::Status TakeFromDaemonSet(ValidatorPodApi& api, CudaPodSpec& spec) {
  absl::StatusOr<json> daemon_set = api.GetDaemonSet(spec.ns, kOperatorValidator);
  // Run outside the DaemonSet (by hand, in a test): the defaults.
  if (absl::IsNotFound(daemon_set.status())) return absl::OkStatus();
  if (!daemon_set.ok()) {
    return absl::Status(daemon_set.status().code(),
                        absl::StrCat("read DaemonSet ", spec.ns, "/", kOperatorValidator, ": ",
                                     daemon_set.status().message()));
  }
  const json& pod_spec = kube::ObjectField(
      kube::ObjectField(kube::ObjectField(*daemon_set, "spec"), "template"), "spec");
  if (const auto tolerations = pod_spec.find("tolerations");
      tolerations != pod_spec.end() && tolerations->is_array()) {
    spec.tolerations = *tolerations;
  }
  const json& metadata = kube::ObjectField(*daemon_set, "metadata");
  if (const auto owners = metadata.find("ownerReferences"); owners != metadata.end()) {
    spec.owner_references = OwnersForPod(*owners);
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> SplitPullSecrets(std::string_view list) {
  std::vector<std::string> secrets;
  for (absl::string_view name : absl::StrSplit(absl::string_view(list.data(), list.size()), ',')) {
    name = absl::StripAsciiWhitespace(name);
    if (!name.empty()) secrets.emplace_back(name);
  }
  return secrets;
}

json CudaValidatorPod(const CudaPodSpec& spec) {
  json container = {
      {"name", kContainerName},
      {"image", spec.image},
      {"command", {"gpuop", "validator", "cuda-workload"}},
      // The runtime hands the container every GPU of the node: the workload checks each one.
      {"env", {{{"name", "NVIDIA_VISIBLE_DEVICES"}, {"value", "all"}}}},
      // It only opens the GPUs' device nodes, which the runtime puts in. The root filesystem
      // stays writable: the runtime's hook writes the container's ld.so.cache, by which
      // libcuda.so.1 is found.
      {"securityContext",
       {{"allowPrivilegeEscalation", false}, {"capabilities", {{"drop", {"ALL"}}}}}}};
  if (!spec.image_pull_policy.empty()) container["imagePullPolicy"] = spec.image_pull_policy;
  json pod_spec = {{"nodeName", spec.node_name},
                   {"restartPolicy", "OnFailure"},
                   {"serviceAccountName", kOperatorValidator},
                   {"tolerations", spec.tolerations},
                   {"securityContext", {{"seccompProfile", {{"type", "RuntimeDefault"}}}}},
                   {"containers", json::array({container})}};
  if (!spec.runtime_class.empty()) pod_spec["runtimeClassName"] = spec.runtime_class;
  if (!spec.image_pull_secrets.empty()) {
    json secrets = json::array();
    for (const std::string& name : spec.image_pull_secrets) secrets.push_back({{"name", name}});
    pod_spec["imagePullSecrets"] = std::move(secrets);
  }
  json metadata = {{"generateName", absl::StrCat(kCudaValidatorApp, "-")},
                   {"namespace", spec.ns},
                   {"labels", {{"app", kCudaValidatorApp}}}};
  if (spec.owner_references.is_array() && !spec.owner_references.empty()) {
    metadata["ownerReferences"] = spec.owner_references;
  }
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", metadata}, {"spec", pod_spec}};
}

std::string DescribePodProgress(const json& pod) {
  const json& status = kube::ObjectField(pod, "status");
  const std::string phase = kube::StringField(status, "phase");
  std::string progress = absl::StrCat("phase ", phase.empty() ? "unknown" : Quote(phase));
  const auto statuses = status.find("containerStatuses");
  if (statuses == status.end() || !statuses->is_array()) return progress;
  for (const json& container : *statuses) {
    const std::string name = Quote(kube::StringField(container, "name"));
    const json& waiting = kube::ObjectField(kube::ObjectField(container, "state"), "waiting");
    const json& last = kube::ObjectField(kube::ObjectField(container, "lastState"), "terminated");
    if (const std::string reason = kube::StringField(waiting, "reason"); !reason.empty()) {
      absl::StrAppend(&progress, "; ", name, " waiting: ", Quote(reason));
    }
    if (!last.empty()) {
      const std::string message = kube::StringField(last, "message");
      absl::StrAppend(&progress, "; ", name, " last exited ", kube::IntField(last, "exitCode"),
                      message.empty() ? "" : ": " + Quote(message));
    }
  }
  return progress;
}

absl::StatusOr<std::string> ValidateCuda(const CudaValidationOptions& options, ValidatorPodApi& api,
                                         const common::StopSignal& stop) {
  const std::string ready = absl::StrCat(options.validations_dir, "/", api::kCudaReadyFile);
  std::error_code error;
  if (!std::filesystem::remove(ready, error) && error) {
    return absl::ErrnoToStatus(error.value(), absl::StrCat("remove ", ready));
  }
  CudaPodSpec spec = options.pod;
  if (absl::Status taken = TakeFromDaemonSet(api, spec); !taken.ok()) return taken;

  // An earlier run's pod (a restarted validator): it must not be taken for this run's.
  absl::StatusOr<std::vector<std::string>> earlier =
      api.ListPodNames(spec.ns, kCudaValidatorApp, spec.node_name);
  if (!earlier.ok()) return earlier.status();
  for (const std::string& name : *earlier) {
    if (absl::Status deleted = api.DeletePod(spec.ns, name); !deleted.ok()) return deleted;
  }
  absl::StatusOr<json> created = api.CreatePod(spec.ns, CudaValidatorPod(spec));
  if (!created.ok()) return created.status();
  const std::string name = kube::StringField(kube::ObjectField(*created, "metadata"), "name");
  if (name.empty()) return absl::InternalError("the API server created a pod without a name");

  json pod = *created;
  for (int look = 1;; ++look) {
    const std::string phase = kube::StringField(kube::ObjectField(pod, "status"), "phase");
    if (phase == "Succeeded") break;
    if (phase == "Failed") {
      const json& status = kube::ObjectField(pod, "status");
      const std::string message = kube::StringField(status, "message");
      return absl::FailedPreconditionError(
          absl::StrCat("pod ", spec.ns, "/", name,
                       " failed: ", message.empty() ? DescribePodProgress(pod) : Quote(message)));
    }
    if (look >= options.attempts) {
      return absl::DeadlineExceededError(absl::StrCat("pod ", spec.ns, "/", name,
                                                      " has not succeeded after ", look,
                                                      " looks: ", DescribePodProgress(pod)));
    }
    if (stop.SleepFor(options.interval)) {
      return absl::CancelledError(absl::StrCat("stopped while waiting for pod ", name));
    }
    absl::StatusOr<json> now = api.GetPod(spec.ns, name);
    if (!now.ok()) return now.status();
    pod = *std::move(now);
  }
  if (absl::Status written = common::WriteFileAtomicallyCreatingFolders(ready, ""); !written.ok()) {
    return written;
  }
  return name;
}

absl::StatusOr<json> KubeValidatorPodApi::GetDaemonSet(const std::string& ns,
                                                       const std::string& name) {
  return client_.Get(kube::resources::kDaemonSets, ns, name);
}

absl::StatusOr<std::vector<std::string>> KubeValidatorPodApi::ListPodNames(
    const std::string& ns, const std::string& app, const std::string& node) {
  absl::StatusOr<kube::ListPage> pods =
      client_.ListAll(kube::resources::kPods, ns,
                      {.label_selector = absl::StrCat("app=", app),
                       .field_selector = absl::StrCat("spec.nodeName=", node)});
  if (!pods.ok()) return pods.status();
  std::vector<std::string> names;
  for (const json& pod : pods->items) {
    names.push_back(kube::StringField(kube::ObjectField(pod, "metadata"), "name"));
  }
  return names;
}

absl::Status KubeValidatorPodApi::DeletePod(const std::string& ns, const std::string& name) {
  const absl::Status deleted =
      client_.Delete(kube::resources::kPods, ns, name, {.propagation_policy = "Background"});
  return absl::IsNotFound(deleted) ? absl::OkStatus() : deleted;
}

absl::StatusOr<json> KubeValidatorPodApi::CreatePod(const std::string& ns, const json& pod) {
  return client_.Create(kube::resources::kPods, ns, pod);
}

absl::StatusOr<json> KubeValidatorPodApi::GetPod(const std::string& ns, const std::string& name) {
  return client_.Get(kube::resources::kPods, ns, name);
}

}  // namespace gpuop::operands
