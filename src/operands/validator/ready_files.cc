#include "operands/validator/ready_files.h"

#include <filesystem>
#include <memory>
#include <system_error>

#include "absl/strings/str_cat.h"

#include "common/clock.h"
#include "common/file_events.h"

namespace gpuop::operands {

absl::Status WaitForFile(const std::string& path, std::chrono::milliseconds timeout,
                         const common::StopSignal& stop) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  absl::StatusOr<std::unique_ptr<common::FileEvents>> events = common::FileEvents::Create();
  if (!events.ok()) return events.status();
  if (!(*events)->Watch(dir)) {
    return absl::FailedPreconditionError(absl::StrCat("cannot watch ", dir));
  }
  const common::Clock& clock = common::SteadyClock::Instance();
  const auto started = clock.Now();
  while (!std::filesystem::exists(path)) {
    if (stop.Stopped()) return absl::CancelledError(absl::StrCat("stopped waiting for ", path));
    if (timeout.count() > 0 && clock.Now() - started >= timeout) {
      return absl::DeadlineExceededError(
          absl::StrCat(path, " has not appeared after ",
                       std::chrono::duration_cast<std::chrono::seconds>(timeout).count(), " s"));
    }
    // The timeout bounds each wait so that a stop between two events is seen within a second.
    (*events)->Wait(std::chrono::seconds(1));
  }
  return absl::OkStatus();
}

std::vector<std::string> HoldThenRemove(const std::vector<std::string>& files,
                                        const common::StopSignal& stop) {
  while (!stop.SleepFor(std::chrono::hours(1))) {
  }
  std::vector<std::string> left;
  for (const std::string& file : files) {
    std::error_code error;
    std::filesystem::remove(file, error);
    if (error) left.push_back(absl::StrCat(file, ": ", error.message()));
  }
  return left;
}

}  // namespace gpuop::operands
