#include "operator/daemonset_readiness.h"

#include "absl/strings/str_cat.h"

#include "api/labels.h"
#include "operator/operand_renderer.h"

namespace gpuop::op {
namespace {

int64_t IntAt(kube::JsonElement object, std::initializer_list<std::string_view> path) {
  kube::JsonElement value;
  if (!kube::ElementAt(object, path, value) || !value.is_int64()) return 0;
  return value.get_int64().value_unsafe();
}

}  // namespace

DaemonSetView ProjectDaemonSet(kube::JsonElement object) {
  return {
      .state = std::string(kube::StringAt(object, {"metadata", "labels", api::kOperandStateLabel})),
      .applied_hash = std::string(
          kube::StringAt(object, {"metadata", "annotations", api::kAppliedHashAnnotation})),
      .generation = IntAt(object, {"metadata", "generation"}),
      .observed_generation = IntAt(object, {"status", "observedGeneration"}),
      .desired = IntAt(object, {"status", "desiredNumberScheduled"}),
      .updated = IntAt(object, {"status", "updatedNumberScheduled"}),
      .available = IntAt(object, {"status", "numberAvailable"}),
      .unavailable = IntAt(object, {"status", "numberUnavailable"}),
  };
}

std::optional<std::string> NotRolledOutReason(const DaemonSetView& view) {
  if (view.observed_generation < view.generation) {
    return absl::StrCat("generation ", view.generation,
                        " not yet seen by the DaemonSet controller");
  }
  if (view.desired == 0) return std::nullopt;
  if (view.updated < view.desired) {
    return absl::StrCat(view.updated, " of ", view.desired, " pods updated");
  }
  if (view.available < view.desired || view.unavailable > 0) {
    return absl::StrCat(view.available, " of ", view.desired, " pods available");
  }
  return std::nullopt;
}

}  // namespace gpuop::op
