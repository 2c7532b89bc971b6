#pragma once

// Registry credentials from a Kubernetes pull secret (`kubernetes.io/dockerconfigjson`, key
// `.dockerconfigjson`): {"auths": {"<registry>": {"username", "password"} or {"auth":
// base64("user:pass")}}}. Looked up by the registry host, as kubelet does, also when the entry
// is written as a URL ("https://nvcr.io/v1/").

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace gpuop::oci {

struct Credentials {
  std::string username;
  std::string password;
};

// nullopt when the file has no entry for `registry`; an error when it is not a docker config.
// Docker Hub's entry may be "docker.io", "index.docker.io" or its v1 URL.
absl::StatusOr<std::optional<Credentials>> CredentialsFor(const std::string& docker_config_json,
                                                          const std::string& registry);

}  // namespace gpuop::oci
