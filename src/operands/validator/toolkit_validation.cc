#include "operands/validator/toolkit_validation.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

#include "common/atomic_file.h"

namespace gpuop::operands {

absl::Status ValidateToolkit(const ToolkitValidationOptions& options, NvidiaSmiRunner& runner) {
  const std::string ready = absl::StrCat(options.validations_dir, "/", api::kToolkitReadyFile);
  std::error_code error;
  if (!std::filesystem::remove(ready, error) && error) {
    return absl::ErrnoToStatus(error.value(), absl::StrCat("remove ", ready));
  }
  absl::StatusOr<std::string> smi = FindOnSearchPath(kNvidiaSmi, options.search_path);
  if (!smi.ok()) {
    return absl::NotFoundError(absl::StrCat(
        smi.status().message(),
        ": the NVIDIA runtime did not inject the driver (does the pod run under the nvidia "
        "RuntimeClass, and has the toolkit configured the runtime?)"));
  }
  if (absl::Status works = runner.Run({.program = *smi}); !works.ok()) return works;
  return common::WriteFileAtomicallyCreatingFolders(ready, "");
}

}  // namespace gpuop::operands
