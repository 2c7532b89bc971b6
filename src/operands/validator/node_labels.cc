#include "operands/validator/node_labels.h"

#include "absl/strings/str_cat.h"

#include "api/labels.h"
#include "common/clock.h"

namespace gpuop::operands {
namespace {

absl::StatusOr<std::string> ReadLabel(const std::string& node_name, const NodeLabelReader& read,
                                      const std::string& key) {
  absl::StatusOr<std::string> label = read(key);
  if (!label.ok()) {
    return absl::Status(label.status().code(),
                        absl::StrCat("read node ", node_name, ": ", label.status().message()));
  }
  return label;
}

}  // namespace

absl::StatusOr<std::string> ChooseWorkload(const std::string& given, const std::string& node_name,
                                           const NodeLabelReader& read,
                                           const std::string& fallback) {
  if (!given.empty()) return given;
  if (!node_name.empty()) {
    absl::StatusOr<std::string> label = ReadLabel(node_name, read, api::kWorkloadConfigLabel);
    if (!label.ok() || !label->empty()) return label;
  }
  return fallback;
}

absl::StatusOr<std::string> WaitForCcCapable(const std::string& node_name,
                                             const NodeLabelReader& read,
                                             std::chrono::milliseconds timeout,
                                             const common::StopSignal& stop,
                                             std::chrono::milliseconds poll) {
  const common::Clock& clock = common::SteadyClock::Instance();
  const common::Clock::TimePoint until = clock.Now() + timeout;
  while (true) {
    absl::StatusOr<std::string> label = ReadLabel(node_name, read, api::kCcCapableLabel);
    if (!label.ok() || !label->empty()) return label;
    if (timeout.count() > 0 && clock.Now() >= until) {
      return absl::DeadlineExceededError(absl::StrCat("node ", node_name, " has no ",
                                                      api::kCcCapableLabel,
                                                      " label yet (the CC manager sets it)"));
    }
    if (stop.SleepFor(poll)) return absl::CancelledError("");
  }
}

}  // namespace gpuop::operands
