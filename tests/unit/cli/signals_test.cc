#include "cli/signals.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "absl/synchronization/notification.h"

namespace gpuop::cli {
namespace {

TEST(StopOnSignals, ASigtermStopsEvenWhenAThreadStartedFirst) {
  // A thread that exists before StopOnSignals, as civetweb's did in the CC manager: with a
  // blocked-mask design it took the signal and, in a container's PID 1, dropped it.
  absl::Notification done;
  std::thread earlier([&] { done.WaitForNotification(); });
  common::StopSignal stop;
  {
    StopOnSignals signals(stop);
    ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
    EXPECT_TRUE(stop.SleepFor(std::chrono::seconds(5)));  // Until it stops, for up to 5 s.
  }
  done.Notify();
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
  // Nothing left over from the first: no stop in 300 ms (one would end the wait at once).
  EXPECT_FALSE(second.SleepFor(std::chrono::milliseconds(300)));
  ASSERT_EQ(::kill(::getpid(), SIGINT), 0);
  EXPECT_TRUE(second.SleepFor(std::chrono::seconds(5)));
}

}  // namespace
}  // namespace gpuop::cli
