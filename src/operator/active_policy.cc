#include "operator/active_policy.h"

#include <tuple>

namespace gpuop::op {

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

}  // namespace gpuop::op
