#include "common/log_throttle.h"

namespace gpuop::common {

int64_t LogThrottle::Failed() {
  const Clock::TimePoint now = clock_.Now();
  absl::MutexLock lock(&mu_);
  ++run_;
  ++quiet_;
  if (last_line_.has_value() && now - *last_line_ < interval_) return 0;
  last_line_ = now;
  const int64_t stands_for = quiet_;
  quiet_ = 0;
  return stands_for;
}

int64_t LogThrottle::Succeeded() {
  absl::MutexLock lock(&mu_);
  const int64_t run = run_;
  run_ = 0;
  quiet_ = 0;
  last_line_.reset();
  return run;
}

}  // namespace gpuop::common
