#pragma once

// Keeps a failure that repeats from flooding the log: a loop that retries an unreachable API
// server every few hundred milliseconds should say so at once, then about once per interval, and
// each line should say how many failures it stands for. The caller logs; this only decides when.
//
//   LogThrottle throttle(std::chrono::seconds(30));
//   if (const int64_t failures = throttle.Failed(); failures > 0) {
//     log.Warn("cannot reach the API server", {{"failures", absl::StrCat(failures)}, ...});
//   }
//   ...
//   if (const int64_t failures = throttle.Succeeded(); failures > 0) log.Info("reached it");

#include <chrono>
#include <cstdint>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "common/clock.h"

namespace gpuop::common {

class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::nanoseconds interval, Clock& clock = SteadyClock::Instance())
      : interval_(interval), clock_(clock) {}

  // Counts one failure. Returns how many failures a line logged now stands for (this one and
  // those kept quiet since the last line), or 0 when the caller should stay quiet: the first
  // failure of a run is logged at once, the next at most once per interval.
  int64_t Failed();
  // The run of failures ended: the next failure is logged at once. Returns how many failures the
  // run had (0 when there was none), for a line that says the trouble is over.
  int64_t Succeeded();

 private:
  const std::chrono::nanoseconds interval_;
  Clock& clock_;
  absl::Mutex mu_;
  // When the last line of this run was logged; none yet in this run.
  std::optional<Clock::TimePoint> last_line_ ABSL_GUARDED_BY(mu_);
  int64_t quiet_ ABSL_GUARDED_BY(mu_) = 0;  // Failures since the last line.
  int64_t run_ ABSL_GUARDED_BY(mu_) = 0;    // Failures since the last success.
};

}  // namespace gpuop::common
