#pragma once

// Turns SIGTERM and SIGINT into a StopSignal, for long-running subcommands: kubelet stops a
// pod with SIGTERM, a person at a terminal with ^C. Call before starting any thread, so that
// every thread inherits the blocked mask and the signals reach only the waiting thread.

#include <thread>

#include "common/stop_signal.h"

namespace gpuop::cli {

class StopOnSignals {
 public:
  explicit StopOnSignals(common::StopSignal& stop);
  // Stops the signal (if no signal has) and joins the waiting thread, within 200 ms.
  ~StopOnSignals();
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

 private:
  common::StopSignal& stop_;
  std::thread waiter_;
};

}  // namespace gpuop::cli
