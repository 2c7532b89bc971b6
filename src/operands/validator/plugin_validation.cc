#include "operands/validator/plugin_validation.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "common/atomic_file.h"
#include "kube/json_fields.h"

namespace gpuop::operands {

int64_t AdvertisedGpus(const nlohmann::json& node) {
  int64_t gpus = 0;
  for (const auto& [name, quantity] :
       kube::ObjectField(kube::ObjectField(node, "status"), "capacity").items()) {
    if (!absl::StartsWith(name, "nvidia.com/gpu") && !absl::StartsWith(name, "nvidia.com/mig-")) {
      continue;
    }
    int64_t count = 0;
    if (quantity.is_string() && absl::SimpleAtoi(quantity.get<std::string>(), &count) &&
        count > 0) {
      gpus += count;
    }
  }
  return gpus;
}

absl::StatusOr<int64_t> ValidatePlugin(const PluginValidationOptions& options,
                                       const NodeReader& read_node,
                                       const common::StopSignal& stop) {
  const std::string ready = absl::StrCat(options.validations_dir, "/", api::kPluginReadyFile);
  std::error_code error;
  if (!std::filesystem::remove(ready, error) && error) {
    return absl::ErrnoToStatus(error.value(), absl::StrCat("remove ", ready));
  }
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<nlohmann::json> node = read_node();
    if (!node.ok()) {
      return absl::Status(node.status().code(),
                          absl::StrCat("read the node: ", node.status().message()));
    }
    if (const int64_t gpus = AdvertisedGpus(*node); gpus > 0) {
      if (absl::Status written = common::WriteFileAtomicallyCreatingFolders(ready, "");
          !written.ok()) {
        return written;
      }
      return gpus;
    }
    if (attempt >= options.attempts) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the node advertises no nvidia.com/gpu or nvidia.com/mig-* resource after ", attempt,
          " looks (is the device plugin running on it, and does it see the GPUs?)"));
    }
    if (stop.SleepFor(options.interval)) {
      return absl::CancelledError("stopped while waiting for the node to advertise GPUs");
    }
  }
}

}  // namespace gpuop::operands
