#pragma once

// How long a controller waits before retrying a key, as client-go's workqueue rate limiters:
// per-key exponential backoff, an overall token bucket, and the larger of several. Also the
// injectable Clock they (and WorkQueue) read time from, with a fake one for tests.
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

namespace gpuop::kube {

// Where time comes from. Real time passes by itself; a fake clock's time moves only in jumps, so
// a thread sleeping until a time point (WorkQueue::Get waiting for a delayed key) must hear of
// each jump to look again. WatchJumps registers such a callback; the real clock never jumps and
// ignores it.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;

  // Calls `on_jump` after each jump, from the jumping thread and with no lock of the clock's
  // held that Now() needs. Returns an id for StopWatching, which returns only once no call to
  // that callback is running.
  virtual int64_t WatchJumps(std::function<void()> on_jump) = 0;
  virtual void StopWatching(int64_t id) = 0;
};

// std::chrono::steady_clock. Stateless: one process-wide instance is enough.
class SteadyClock final : public Clock {
 public:
  static SteadyClock& Instance();

  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  int64_t WatchJumps(std::function<void()> /*on_jump*/) override { return 0; }
  void StopWatching(int64_t /*id*/) override {}
};

// Time that stands still until Advance(); for deterministic tests. Thread-safe.
class FakeClock final : public Clock {
 public:
  // An arbitrary start well after the epoch, so that Now() minus a delay stays representable.
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::hours(1)))
      : now_(start.time_since_epoch().count()) {}

  TimePoint Now() const override { return TimePoint(TimePoint::duration(now_.load())); }
  // Moves time forward by `step` (>= 0), then tells every watcher.
  void Advance(std::chrono::nanoseconds step);

  int64_t WatchJumps(std::function<void()> on_jump) override;
  void StopWatching(int64_t id) override;

 private:
  // Atomic rather than guarded, so that Now() takes no lock: watchers call it under their own.
  std::atomic<TimePoint::rep> now_;
  absl::Mutex watchers_mu_;  // Held while calling watchers, so StopWatching waits for them.
  int64_t next_watcher_id_ ABSL_GUARDED_BY(watchers_mu_) = 1;
  std::map<int64_t, std::function<void()>> watchers_ ABSL_GUARDED_BY(watchers_mu_);
};

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
