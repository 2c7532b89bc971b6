// When a repeating failure is logged: the first at once, then at most once per interval with
// the count of failures each line stands for; on a FakeClock, so no test waits.

#include "common/log_throttle.h"

#include <gtest/gtest.h>

#include <chrono>

#include "common/clock.h"

namespace gpuop::common {
namespace {

using std::chrono::seconds;

TEST(LogThrottle, TheFirstFailureIsLoggedAtOnce) {
  FakeClock clock;
  LogThrottle throttle(seconds(30), clock);
  EXPECT_EQ(throttle.Failed(), 1);
}

TEST(LogThrottle, LaterFailuresWaitForTheIntervalAndAreCountedInTheNextLine) {
  FakeClock clock;
  LogThrottle throttle(seconds(30), clock);
  ASSERT_EQ(throttle.Failed(), 1);
  for (int i = 0; i < 14; ++i) {
    clock.Advance(seconds(2));  // A retry every two seconds, as leader election's.
    EXPECT_EQ(throttle.Failed(), 0) << "after " << (i + 1) * 2 << " s";
  }
  clock.Advance(seconds(2));  // 30 s after the first line.
  EXPECT_EQ(throttle.Failed(), 15);
  clock.Advance(seconds(29));
  EXPECT_EQ(throttle.Failed(), 0);
  clock.Advance(seconds(1));
  EXPECT_EQ(throttle.Failed(), 2);
}

TEST(LogThrottle, ASuccessEndsTheRunSoTheNextFailureIsLoggedAtOnce) {
  FakeClock clock;
  LogThrottle throttle(seconds(30), clock);
  EXPECT_EQ(throttle.Succeeded(), 0);  // Nothing had failed.
  ASSERT_EQ(throttle.Failed(), 1);
  clock.Advance(seconds(1));
  ASSERT_EQ(throttle.Failed(), 0);
  EXPECT_EQ(throttle.Succeeded(), 2);  // The whole run, logged or not.
  EXPECT_EQ(throttle.Succeeded(), 0);
  clock.Advance(seconds(1));
  EXPECT_EQ(throttle.Failed(), 1);
}

}  // namespace
}  // namespace gpuop::common
