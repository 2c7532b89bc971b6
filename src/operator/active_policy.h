#pragma once

// Which ClusterPolicy rules the cluster: the oldest (by creationTimestamp, then name), as
// NVIDIA's operator decides; every other one is ignored and told so in its status.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

#include "api/cluster_policy.h"
#include "kube/json_element.h"
#include "kube/resource.h"

namespace gpuop::op {

inline const kube::Resource kClusterPolicies{api::kClusterPolicyGroup, api::kClusterPolicyVersion,
                                             "clusterpolicies", false};

// A ClusterPolicy as the informer caches it: parsed, or why it could not be.
struct PolicyView {
  std::string name;
  std::string creation_timestamp;
  int64_t generation = 0;  // Moves with spec changes only, not with our status writes.
  absl::StatusOr<api::ClusterPolicy> policy = absl::UnknownError("not parsed");
  nlohmann::json status;  // As the object has it now; null when it has none.
};

// What an informer keeps of a ClusterPolicy object.
PolicyView ProjectPolicy(kube::JsonElement object);

// The name of the active policy among `views`; nullopt when there is none.
std::optional<std::string> ActivePolicyName(const std::vector<PolicyView>& views);

// The active policy, when there is one and its spec parses.
std::optional<api::ClusterPolicy> ActivePolicy(const std::vector<PolicyView>& views);

}  // namespace gpuop::op
