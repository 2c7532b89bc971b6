#include "api/labels.h"

#include "absl/strings/str_cat.h"

namespace gpuop::api {
namespace {

// What PausedValueOf appends to a value other than "true".
std::string PausedSuffix() { return absl::StrCat("_", kPausedForCcModeChange); }

}  // namespace

std::string DeployLabelOf(std::string_view operand) {
  return absl::StrCat(kDeployLabelPrefix, std::string(operand));
}

std::string PausedValueOf(std::string_view value) {
  if (value.empty() || value == "false") return std::string(value);
  if (value == "true") return kPausedForCcModeChange;
  // Only our own pause stays as it is: another agent's is kept inside ours, so that undoing
  // ours gives that agent's value back.
  if (value.find(kPausedForCcModeChange) != std::string_view::npos) return std::string(value);
  return absl::StrCat(std::string(value), PausedSuffix());
}

std::string UnpausedValue(std::string_view value) {
  if (value == kPausedForCcModeChange) return "true";
  const std::string suffix = PausedSuffix();
  if (value.ends_with(suffix)) value.remove_suffix(suffix.size());
  return std::string(value);
}

}  // namespace gpuop::api
