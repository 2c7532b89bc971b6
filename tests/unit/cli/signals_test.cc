#include "cli/signals.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace gpuop::cli {
namespace {

TEST(StopOnSignals, ASigtermStopsEvenWhenAThreadStartedFirst) {
  // A thread that exists before StopOnSignals, as civetweb's did in the CC manager: with a
  // blocked-mask design it took the signal and, in a container's PID 1, dropped it.
  std::atomic<bool> done{false};
  std::thread earlier([&] {
    while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  });
  common::StopSignal stop;
  {
    StopOnSignals signals(stop);
    ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!stop.Stopped() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(stop.Stopped());
  }
  done = true;
  earlier.join();
  // What was there before (here the default) is back once it is gone.
  struct sigaction current {};
  sigaction(SIGTERM, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_DFL);
}

TEST(StopOnSignals, ALaterInstanceHearsItsOwnSignalOnly) {
  {
    common::StopSignal first;
    StopOnSignals signals(first);
  }
  common::StopSignal second;
  StopOnSignals signals(second);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(second.Stopped());  // Nothing left over from the first.
  ASSERT_EQ(::kill(::getpid(), SIGINT), 0);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!second.Stopped() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(second.Stopped());
}

}  // namespace
}  // namespace gpuop::cli
