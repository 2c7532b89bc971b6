#pragma once

// How long a controller waits before retrying a key, as client-go's workqueue rate limiters:
// per-key exponential backoff, an overall token bucket, and the larger of several. Time comes
// from the injectable common::Clock, so tests run on a FakeClock.
//
//   FakeClock clock;
//   auto limiter = NewControllerRateLimiter(clock);   // 5 ms doubling to 1000 s, 10 qps, burst 100
//   limiter->When("ns/a");                            // 5 ms; next time 10 ms, ...
//   limiter->Forget("ns/a");                          // After a success: back to 5 ms.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

#include "common/clock.h"

namespace gpuop::kube {

// The clock is shared with the REST client and the workqueue; these names keep kube code short.
using common::Clock;
using common::FakeClock;
using common::SteadyClock;

// Decides how long to wait before a key is retried. Implementations are thread-safe.
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Records one more failure of `key` and returns how long to wait before retrying it.
  virtual std::chrono::nanoseconds When(const std::string& key) = 0;
  // Stops tracking `key` (it succeeded): its next When starts afresh.
  virtual void Forget(const std::string& key) = 0;
  // Failures recorded for `key` since it was last forgotten.
  virtual int NumRequeues(const std::string& key) const = 0;
};

// base * 2^failures, at most `max`, per key.
class ExponentialFailureRateLimiter final : public RateLimiter {
 public:
  ExponentialFailureRateLimiter(std::chrono::nanoseconds base, std::chrono::nanoseconds max)
      : base_(base), max_(max) {}

  std::chrono::nanoseconds When(const std::string& key) override;
  void Forget(const std::string& key) override;
  int NumRequeues(const std::string& key) const override;

 private:
  const std::chrono::nanoseconds base_;
  const std::chrono::nanoseconds max_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> failures_ ABSL_GUARDED_BY(mu_);
};

// One token bucket for all keys (as golang.org/x/time/rate's Reserve): `burst` retries pass at
// once, then one per 1/qps. Each When reserves a token, so a burst of retries is spread out
// rather than refused. Keeps no per-key state. qps <= 0 means no limit.
class BucketRateLimiter final : public RateLimiter {
 public:
  BucketRateLimiter(const Clock& clock, double qps, int burst);

  std::chrono::nanoseconds When(const std::string& key) override;
  void Forget(const std::string& /*key*/) override {}
  int NumRequeues(const std::string& /*key*/) const override { return 0; }

 private:
  const Clock& clock_;
  const double qps_;
  const double burst_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);  // Negative: tokens already promised to waiting retries.
  Clock::TimePoint last_ ABSL_GUARDED_BY(mu_);
};

// The longest wait any of its limiters asks for; every limiter hears every call.
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
      : limiters_(std::move(limiters)) {}

  std::chrono::nanoseconds When(const std::string& key) override;
  void Forget(const std::string& key) override;
  int NumRequeues(const std::string& key) const override;

 private:
  const std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// client-go's DefaultControllerRateLimiter values.
struct ControllerRateLimiterOptions {
  std::chrono::nanoseconds base_delay = std::chrono::milliseconds(5);
  std::chrono::nanoseconds max_delay = std::chrono::seconds(1000);
  double qps = 10;
  int burst = 100;
};

// Max of per-key exponential backoff and an overall token bucket: one failing key backs off on
// its own, and many failing at once do not hammer the API server.
std::unique_ptr<RateLimiter> NewControllerRateLimiter(const Clock& clock,
                                                      ControllerRateLimiterOptions options = {});

}  // namespace gpuop::kube
