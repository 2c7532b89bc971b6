#pragma once

// spec.psa.enabled: labels the operator's own namespace with Pod Security Admission's
// `privileged` level for enforce, audit and warn, so that the node agents' privileged pods are
// admitted where the cluster's default level is baseline or restricted. As NVIDIA GPU Operator
// v26.7 (controllers/state_manager.go, setPodSecurityLabelsForNamespace): read the namespace,
// patch only the labels that differ, and leave every label alone when psa.enabled is false (an
// admin's own labels stay). Where we differ on purpose: a failure here is reported and retried
// but does not hold back the operands (NVIDIA's ends the reconcile pass).
//
//   std::optional<json> patch = PodSecurityLabelPatch(policy.psa_enabled, labels);
//   absl::StatusOr<bool> patched = EnsurePodSecurityLabels(client, ns, policy.psa_enabled);

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

#include "kube/rest_client.h"

namespace gpuop::op {

// Kubernetes' Pod Security Admission labels (k8s.io/pod-security-admission/api, v1.35).
inline constexpr const char* kPodSecurityModeLabels[] = {"pod-security.kubernetes.io/enforce",
                                                         "pod-security.kubernetes.io/audit",
                                                         "pod-security.kubernetes.io/warn"};
inline constexpr char kPodSecurityPrivileged[] = "privileged";

// The JSON merge patch {"metadata":{"labels":{...}}} that sets each of kPodSecurityModeLabels
// that is not `privileged` yet, given the namespace's metadata.labels (anything but an object
// counts as no labels). nullopt when psa is off or every label already says privileged.
std::optional<nlohmann::json> PodSecurityLabelPatch(bool psa_enabled, const nlohmann::json& labels);

// Reads namespaces/<ns> and applies PodSecurityLabelPatch to it: true when it patched, false
// when nothing was to change (psa off: no call at all). The API's error, with its code and
// a message naming the namespace, when the read or the patch fails (Forbidden: the chart's
// ClusterRole grants get and patch on the release's namespace only).
absl::StatusOr<bool> EnsurePodSecurityLabels(kube::RestClient& client, const std::string& ns,
                                             bool psa_enabled);

}  // namespace gpuop::op
