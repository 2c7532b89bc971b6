#include "operands/validator/cc_manager_validation.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

#include "api/paths.h"
#include "common/atomic_file.h"
#include "operands/validator/ready_files.h"

namespace gpuop::operands {

absl::Status ValidateCcManager(const CcManagerValidationOptions& options,
                               const common::StopSignal& stop) {
  const std::string dir = options.validations_dir;
  const std::string ready = absl::StrCat(dir, "/", api::kCcManagerReadyFile);
  const std::string agent_ready = absl::StrCat(dir, "/", api::kCcManagerCtrReadyFile);
  std::error_code ignored;
  // Nobody may rely on an old ready file while we look.
  std::filesystem::remove(ready, ignored);
  if (options.cc_capable) {
    absl::Status waited = WaitForFile(agent_ready, options.timeout, stop);
    if (absl::IsDeadlineExceeded(waited)) {
      return absl::DeadlineExceededError(
          absl::StrCat("the CC manager has not written ", agent_ready, ": ", waited.message()));
    }
    if (absl::IsCancelled(waited)) {
      return absl::CancelledError("stopped while waiting for the CC manager");
    }
    if (!waited.ok()) return waited;
  }
  return common::WriteFileAtomicallyCreatingFolders(ready, "");
}

}  // namespace gpuop::operands
