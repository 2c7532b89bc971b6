#include "common/clock.h"

#include <algorithm>
#include <thread>

namespace gpuop::common {

SteadyClock& SteadyClock::Instance() {
  static SteadyClock clock;
  return clock;
}

void SteadyClock::Sleep(std::chrono::nanoseconds duration) {
  std::this_thread::sleep_for(duration);
}

void FakeClock::Advance(std::chrono::nanoseconds step) {
  now_.fetch_add(std::max(step, std::chrono::nanoseconds(0)).count());
  absl::MutexLock lock(&watchers_mu_);
  for (const auto& [id, on_jump] : watchers_) on_jump();
}

int64_t FakeClock::WatchJumps(std::function<void()> on_jump) {
  absl::MutexLock lock(&watchers_mu_);
  const int64_t id = next_watcher_id_++;
  watchers_.emplace(id, std::move(on_jump));
  return id;
}

void FakeClock::StopWatching(int64_t id) {
  absl::MutexLock lock(&watchers_mu_);
  watchers_.erase(id);
}

}  // namespace gpuop::common
