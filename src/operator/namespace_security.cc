#include "operator/namespace_security.h"

#include "absl/strings/str_cat.h"

#include "kube/json_fields.h"
#include "kube/resource.h"

namespace gpuop::op {

using nlohmann::json;

std::optional<json> PodSecurityLabelPatch(bool psa_enabled, const json& labels) {
  if (!psa_enabled) return std::nullopt;
  json changes = json::object();
  for (const char* key : kPodSecurityModeLabels) {
    if (kube::StringField(labels, key) != kPodSecurityPrivileged) {
      changes[key] = kPodSecurityPrivileged;
    }
  }
  if (changes.empty()) return std::nullopt;
  return json{{"metadata", {{"labels", std::move(changes)}}}};
}

absl::StatusOr<bool> EnsurePodSecurityLabels(kube::RestClient& client, const std::string& ns,
                                             bool psa_enabled) {
  if (!psa_enabled) return false;
  const auto failed = [&ns](const char* step, const absl::Status& status) {
    return absl::Status(status.code(), absl::StrCat(step, " namespace ", ns,
                                                    " for spec.psa.enabled: ", status.message()));
  };
  absl::StatusOr<json> current = client.Get(kube::resources::kNamespaces, "", ns);
  if (!current.ok()) return failed("read", current.status());
  const std::optional<json> patch = PodSecurityLabelPatch(
      psa_enabled, kube::ObjectField(kube::ObjectField(*current, "metadata"), "labels"));
  if (!patch) return false;
  absl::StatusOr<json> patched = client.MergePatch(kube::resources::kNamespaces, "", ns, *patch);
  if (!patched.ok()) {
    return failed("label pod-security.kubernetes.io/{enforce,audit,warn}=privileged on",
                  patched.status());
  }
  return true;
}

}  // namespace gpuop::op
