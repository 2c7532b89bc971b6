#pragma once

// Names a kind of Kubernetes object by its REST coordinates, and builds the URL paths to it.
// The API kinds gpuop uses are constants here; custom resources are built by the caller.

#include <string>

namespace gpuop::kube {

struct Resource {
  std::string group;    // Empty for the core API ("v1").
  std::string version;  // "v1"
  std::string plural;   // "nodes"
  bool namespaced = false;

  // "/api/v1/nodes/n1/status", "/apis/apps/v1/namespaces/ns/daemonsets". `ns` is ignored for
  // cluster-scoped resources; an empty `ns` on a namespaced one means all namespaces (lists).
  std::string Path(const std::string& ns = "", const std::string& name = "",
                   const std::string& subresource = "") const;
};

namespace resources {
inline const Resource kNamespaces{"", "v1", "namespaces", false};
inline const Resource kNodes{"", "v1", "nodes", false};
inline const Resource kPods{"", "v1", "pods", true};
inline const Resource kConfigMaps{"", "v1", "configmaps", true};
inline const Resource kServices{"", "v1", "services", true};
inline const Resource kSecrets{"", "v1", "secrets", true};
inline const Resource kServiceAccounts{"", "v1", "serviceaccounts", true};
inline const Resource kEvents{"events.k8s.io", "v1", "events", true};
inline const Resource kDaemonSets{"apps", "v1", "daemonsets", true};
inline const Resource kDeployments{"apps", "v1", "deployments", true};
inline const Resource kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles", false};
inline const Resource kClusterRoleBindings{"rbac.authorization.k8s.io", "v1", "clusterrolebindings",
                                           false};
inline const Resource kRoles{"rbac.authorization.k8s.io", "v1", "roles", true};
inline const Resource kRoleBindings{"rbac.authorization.k8s.io", "v1", "rolebindings", true};
inline const Resource kRuntimeClasses{"node.k8s.io", "v1", "runtimeclasses", false};
inline const Resource kLeases{"coordination.k8s.io", "v1", "leases", true};
inline const Resource kCustomResourceDefinitions{"apiextensions.k8s.io", "v1",
                                                 "customresourcedefinitions", false};
}  // namespace resources

}  // namespace gpuop::kube
