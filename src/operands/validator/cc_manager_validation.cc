#include "operands/validator/cc_manager_validation.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

#include "api/paths.h"
#include "common/atomic_file.h"
#include "common/file_events.h"

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
    std::filesystem::create_directories(dir, ignored);
    absl::StatusOr<std::unique_ptr<common::FileEvents>> events = common::FileEvents::Create();
    if (!events.ok()) return events.status();
    if (!(*events)->Watch(dir)) {
      return absl::FailedPreconditionError(absl::StrCat("cannot watch ", dir));
    }
    const auto started = std::chrono::steady_clock::now();
    // Watching first, then looking: a file made in between is not missed.
    while (!std::filesystem::exists(agent_ready)) {
      if (stop.Stopped()) return absl::CancelledError("stopped while waiting for the CC manager");
      if (options.timeout.count() > 0 &&
          std::chrono::steady_clock::now() - started >= options.timeout) {
        return absl::DeadlineExceededError(absl::StrCat(
            "the CC manager has not written ", agent_ready, " after ",
            std::chrono::duration_cast<std::chrono::seconds>(options.timeout).count(), " s"));
      }
      (*events)->Wait(std::chrono::seconds(1));
    }
  }
  return common::WriteFileAtomicallyCreatingFolders(ready, "");
}

}  // namespace gpuop::operands
