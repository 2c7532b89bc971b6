#include "operator/operand_objects.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace gpuop::op {
namespace {

struct Kind {
  const char* api_version;
  const char* kind;
  const kube::Resource* resource;
};

const std::vector<Kind>& Kinds() {
  namespace r = kube::resources;
  static const std::vector<Kind> kinds = {
      {"apps/v1", "DaemonSet", &r::kDaemonSets},
      {"v1", "ConfigMap", &r::kConfigMaps},
      {"v1", "Service", &r::kServices},
      {"monitoring.coreos.com/v1", "ServiceMonitor", &kServiceMonitors},
      {"node.k8s.io/v1", "RuntimeClass", &r::kRuntimeClasses},
      {"nfd.k8s-sigs.io/v1alpha1", "NodeFeatureRule", &kNodeFeatureRules},
      {"rbac.authorization.k8s.io/v1", "RoleBinding", &r::kRoleBindings},
      {"rbac.authorization.k8s.io/v1", "Role", &r::kRoles},
      {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", &r::kClusterRoleBindings},
      {"rbac.authorization.k8s.io/v1", "ClusterRole", &r::kClusterRoles},
      {"v1", "ServiceAccount", &r::kServiceAccounts},
  };
  return kinds;
}

}  // namespace

absl::StatusOr<kube::Resource> ResourceOf(const nlohmann::json& object) {
  const std::string api_version = object.value("apiVersion", "");
  const std::string kind = object.value("kind", "");
  for (const Kind& candidate : Kinds()) {
    if (api_version == candidate.api_version && kind == candidate.kind) return *candidate.resource;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("gpuop does not apply objects of kind ", kind, " (", api_version, ")"));
}

const std::vector<kube::Resource>& AppliedKinds() {
  static const std::vector<kube::Resource> applied_kinds = [] {
    std::vector<kube::Resource> resources;
    for (const Kind& kind : Kinds()) resources.push_back(*kind.resource);
    return resources;
  }();
  return applied_kinds;
}

}  // namespace gpuop::op
