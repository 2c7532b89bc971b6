#pragma once

// Turns SIGTERM and SIGINT into a StopSignal, for long-running subcommands: kubelet stops a
// pod with SIGTERM, a person at a terminal with ^C. It installs a handler, so it works whichever
// threads exist already. One instance at a time (the process has one signal pipe).

#include <signal.h>

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
  bool installed_ = false;
  struct sigaction previous_term_ {};
  struct sigaction previous_int_ {};
  std::thread waiter_;
};

}  // namespace gpuop::cli
