#include "cli/signals.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

namespace gpuop::cli {
namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

StopOnSignals::StopOnSignals(common::StopSignal& stop) : stop_(stop) {
  const sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  waiter_ = std::thread([this, set] {
    // Waits in slices, so that the destructor can end it by stopping instead of signalling it.
    const timespec slice{.tv_sec = 0, .tv_nsec = 200'000'000};
    while (!stop_.Stopped()) {
      if (sigtimedwait(&set, nullptr, &slice) > 0) stop_.Stop();
    }
  });
}

StopOnSignals::~StopOnSignals() {
  stop_.Stop();
  waiter_.join();
}

}  // namespace gpuop::cli
