#pragma once

// Turns SIGTERM and SIGINT into a StopSignal, for long-running subcommands: kubelet stops a
// pod with SIGTERM, a person at a terminal with ^C. It installs a handler, so it works whichever
// threads exist already; one instance at a time.

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
  int read_fd_ = -1;  // A self-pipe: the handler writes a byte, the waiter stops.
  int write_fd_ = -1;
  std::thread waiter_;
};

}  // namespace gpuop::cli
