#include "kube/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace gpuop::kube {

std::chrono::nanoseconds ExponentialFailureRateLimiter::When(const std::string& key) {
  int failures = 0;
  {
    absl::MutexLock lock(&mu_);
    failures = failures_[key]++;
  }
  // In floating point, so that a long-failing key saturates at max_ instead of overflowing.
  const double backoff = static_cast<double>(base_.count()) * std::exp2(failures);
  if (backoff >= static_cast<double>(max_.count())) return max_;
  return std::chrono::nanoseconds(static_cast<int64_t>(backoff));
}

void ExponentialFailureRateLimiter::Forget(const std::string& key) {
  absl::MutexLock lock(&mu_);
  failures_.erase(key);
}

int ExponentialFailureRateLimiter::NumRequeues(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  const auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

BucketRateLimiter::BucketRateLimiter(const Clock& clock, double qps, int burst)
    : clock_(clock), qps_(qps), burst_(burst), tokens_(burst), last_(clock.Now()) {}

std::chrono::nanoseconds BucketRateLimiter::When(const std::string& /*key*/) {
  if (qps_ <= 0) return std::chrono::nanoseconds(0);
  constexpr double kNanosPerSecond = 1e9;
  absl::MutexLock lock(&mu_);
  const Clock::TimePoint now = clock_.Now();
  if (now > last_) {
    const auto elapsed = static_cast<double>((now - last_).count());
    tokens_ = std::min(burst_, tokens_ + elapsed * qps_ / kNanosPerSecond);
    last_ = now;
  }
  tokens_ -= 1;
  if (tokens_ >= 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(std::llround(-tokens_ * kNanosPerSecond / qps_));
}

std::chrono::nanoseconds MaxOfRateLimiter::When(const std::string& key) {
  std::chrono::nanoseconds longest(0);
  for (const auto& limiter : limiters_) longest = std::max(longest, limiter->When(key));
  return longest;
}

void MaxOfRateLimiter::Forget(const std::string& key) {
  for (const auto& limiter : limiters_) limiter->Forget(key);
}

int MaxOfRateLimiter::NumRequeues(const std::string& key) const {
  int most = 0;
  for (const auto& limiter : limiters_) most = std::max(most, limiter->NumRequeues(key));
  return most;
}

std::unique_ptr<RateLimiter> NewControllerRateLimiter(const Clock& clock,
                                                      ControllerRateLimiterOptions options) {
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(
      std::make_unique<ExponentialFailureRateLimiter>(options.base_delay, options.max_delay));
  limiters.push_back(std::make_unique<BucketRateLimiter>(clock, options.qps, options.burst));
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

}  // namespace gpuop::kube
