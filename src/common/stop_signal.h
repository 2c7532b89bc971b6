#pragma once

// A one-way "stop now" flag for a long-running loop: cheap to poll, waitable with a timeout (for
// backoff sleeps that must end at once on shutdown), and readable as a std::atomic<bool> by
// code that polls (libcurl's progress callback).

#include <atomic>
#include <chrono>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace gpuop::common {

class StopSignal {
 public:
  void Stop() {
    if (!flag_.exchange(true)) notification_.Notify();
  }
  bool Stopped() const { return flag_.load(); }
  const std::atomic<bool>* Flag() const { return &flag_; }
  // Sleeps for `duration` or until Stop(); returns true when stopped.
  bool SleepFor(std::chrono::milliseconds duration) const {
    return notification_.WaitForNotificationWithTimeout(absl::FromChrono(duration));
  }

 private:
  std::atomic<bool> flag_{false};
  absl::Notification notification_;
};

}  // namespace gpuop::common
