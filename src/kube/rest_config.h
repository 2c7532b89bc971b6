#pragma once

// Where the Kubernetes API server is and who we are to it, from a kubeconfig file or from the
// ServiceAccount a pod runs as. Loaded in the order client-go and controller-runtime use:
// --kubeconfig, then $KUBECONFIG, then in-cluster, then ~/.kube/config.
//
//   absl::StatusOr<RestConfig> config = LoadRestConfig({.kubeconfig = flag_value});

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

#include "common/http_client.h"

namespace gpuop::kube {

struct RestConfig {
  std::string server;  // "https://host:port", no trailing slash.
  common::TlsOptions tls;
  std::string bearer_token;  // A fixed token, or...
  std::string token_file;    // ...a file re-read as it rotates (projected ServiceAccount tokens).
  std::string default_namespace = "default";
};

// Parses kubeconfig text. `base_dir` resolves relative file paths, as client-go resolves them
// against the kubeconfig's own folder. `context` empty means current-context. Errors are
// InvalidArgument naming the field at fault, e.g. `users[0] "admin": client-key-data is not
// base64`; exec and auth-provider users are Unimplemented.
absl::StatusOr<RestConfig> ParseKubeconfig(std::string_view text, const std::string& base_dir,
                                           const std::string& context = "");

// Reads a kubeconfig file; `paths` may list several joined by ':' (as $KUBECONFIG does): the
// first file that names a cluster, user or context wins it, and the first current-context
// wins. Missing files in a list are skipped; a list with no file is NotFound.
absl::StatusOr<RestConfig> LoadKubeconfig(const std::string& paths,
                                          const std::string& context = "");

struct InClusterSources {
  std::string service_host;  // $KUBERNETES_SERVICE_HOST
  std::string service_port;  // $KUBERNETES_SERVICE_PORT
  std::string secrets_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};

// The config of a pod: server from the service env, CA and namespace from the secrets dir, and
// the token file itself (not its contents: it rotates). NotFound when not in a pod.
absl::StatusOr<RestConfig> LoadInCluster(const InClusterSources& sources);

struct RestConfigSources {
  std::string kubeconfig;  // --kubeconfig
  std::string context;     // --context
};

// --kubeconfig, $KUBECONFIG, in-cluster, ~/.kube/config: the first that exists decides, and its
// errors are returned as they are (a broken kubeconfig is not silently skipped).
absl::StatusOr<RestConfig> LoadRestConfig(const RestConfigSources& sources);

}  // namespace gpuop::kube
