#pragma once

// A registry's `WWW-Authenticate` answer to an unauthenticated call (RFC 7235 as the
// distribution token spec uses it): `Bearer realm="https://auth.example/token",
// service="registry.example",scope="repository:kata:pull"` or `Basic realm="Registry"`.

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace gpuop::oci {

struct AuthChallenge {
  std::string scheme;                         // "bearer" or "basic", lower case.
  std::map<std::string, std::string> params;  // Names in lower case; quoted values unquoted.
};

absl::StatusOr<AuthChallenge> ParseAuthChallenge(const std::string& header);

}  // namespace gpuop::oci
