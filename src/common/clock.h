#pragma once

// The time source of everything that waits or backs off (workqueues, rate limiters, the REST
// client's Retry-After): steady time in production, a FakeClock that moves only when told in
// tests.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace gpuop::common {

// Where time comes from. Real time passes by itself; a fake clock's time moves only in jumps, so
// a thread sleeping until a time point (WorkQueue::Get waiting for a delayed key) must hear of
// each jump to look again. WatchJumps registers such a callback; the real clock never jumps and
// ignores it.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Waits `duration`: the real clock sleeps, a fake one jumps ahead by it at once (so code that
  // backs off can be tested without waiting).
  virtual void Sleep(std::chrono::nanoseconds duration) = 0;

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
  void Sleep(std::chrono::nanoseconds duration) override;
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
  void Sleep(std::chrono::nanoseconds duration) override { Advance(duration); }

  int64_t WatchJumps(std::function<void()> on_jump) override;
  void StopWatching(int64_t id) override;

 private:
  // Atomic rather than guarded, so that Now() takes no lock: watchers call it under their own.
  std::atomic<TimePoint::rep> now_;
  absl::Mutex watchers_mu_;  // Held while calling watchers, so StopWatching waits for them.
  int64_t next_watcher_id_ ABSL_GUARDED_BY(watchers_mu_) = 1;
  std::map<int64_t, std::function<void()>> watchers_ ABSL_GUARDED_BY(watchers_mu_);
};

}  // namespace gpuop::common
