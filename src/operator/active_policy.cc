#include "operator/active_policy.h"

#include <tuple>

namespace gpuop::op {

PolicyView ProjectPolicy(kube::JsonElement object) {
  PolicyView view;
  view.name = std::string(kube::StringAt(object, {"metadata", "name"}));
  view.creation_timestamp = std::string(kube::StringAt(object, {"metadata", "creationTimestamp"}));
  if (kube::JsonElement generation;
      kube::ElementAt(object, {"metadata", "generation"}, generation) && generation.is_int64()) {
    view.generation = generation.get_int64().value_unsafe();
  }
  // Policies are few and small: the whole object goes through the nlohmann-based parser.
  const nlohmann::json parsed =
      nlohmann::json::parse(simdjson::to_string(object), nullptr, /*allow_exceptions=*/false);
  view.policy = api::ParseClusterPolicy(parsed);
  if (parsed.is_object() && parsed.contains("status")) view.status = parsed["status"];
  return view;
}

std::optional<std::string> ActivePolicyName(const std::vector<PolicyView>& views) {
  const PolicyView* oldest = nullptr;
  for (const PolicyView& view : views) {
    // RFC 3339 in UTC with one-second resolution, as the API writes it, sorts as text.
    if (oldest == nullptr || std::tie(view.creation_timestamp, view.name) <
                                 std::tie(oldest->creation_timestamp, oldest->name)) {
      oldest = &view;
    }
  }
  if (oldest == nullptr) return std::nullopt;
  return oldest->name;
}

std::optional<api::ClusterPolicy> ActivePolicy(const std::vector<PolicyView>& views) {
  const std::optional<std::string> name = ActivePolicyName(views);
  if (!name) return std::nullopt;
  for (const PolicyView& view : views) {
    if (view.name == *name && view.policy.ok()) return *view.policy;
  }
  return std::nullopt;
}

}  // namespace gpuop::op
