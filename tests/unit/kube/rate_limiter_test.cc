#include "kube/rate_limiter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gpuop::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(ExponentialFailureRateLimiter, DoublesPerFailureUpToTheCap) {
  ExponentialFailureRateLimiter limiter(milliseconds(5), milliseconds(100));
  for (const nanoseconds expected :
       {milliseconds(5), milliseconds(10), milliseconds(20), milliseconds(40), milliseconds(80),
        milliseconds(100), milliseconds(100)}) {
    EXPECT_EQ(limiter.When("ns/a"), expected);
  }
  EXPECT_EQ(limiter.NumRequeues("ns/a"), 7);
}

TEST(ExponentialFailureRateLimiter, ControllerDefaultsReachTheCapAfterEighteenFailures) {
  ExponentialFailureRateLimiter limiter(milliseconds(5), seconds(1000));
  for (int failure = 0; failure < 18; ++failure) {
    EXPECT_EQ(limiter.When("a"), milliseconds(5) * (int64_t{1} << failure)) << failure;
  }
  EXPECT_EQ(limiter.When("a"), seconds(1000));  // 5 ms * 2^18 would be 1310.72 s.
}

TEST(ExponentialFailureRateLimiter, AKeyFailingForeverSaturatesWithoutOverflow) {
  ExponentialFailureRateLimiter limiter(milliseconds(5), seconds(1000));
  for (int failure = 0; failure < 200; ++failure) limiter.When("a");
  EXPECT_EQ(limiter.When("a"), seconds(1000));
}

TEST(ExponentialFailureRateLimiter, KeysBackOffIndependently) {
  ExponentialFailureRateLimiter limiter(milliseconds(5), seconds(1000));
  limiter.When("a");
  limiter.When("a");
  EXPECT_EQ(limiter.When("b"), milliseconds(5));
  EXPECT_EQ(limiter.NumRequeues("a"), 2);
  EXPECT_EQ(limiter.NumRequeues("b"), 1);
  EXPECT_EQ(limiter.NumRequeues("never-failed"), 0);
}

TEST(ExponentialFailureRateLimiter, ForgetStartsTheBackoffAfresh) {
  ExponentialFailureRateLimiter limiter(milliseconds(5), seconds(1000));
  limiter.When("a");
  limiter.When("a");
  limiter.Forget("a");
  EXPECT_EQ(limiter.NumRequeues("a"), 0);
  EXPECT_EQ(limiter.When("a"), milliseconds(5));
}

TEST(BucketRateLimiter, FirstBurstPassAtOnceThenOnePerInterval) {
  FakeClock clock;
  BucketRateLimiter limiter(clock, /*qps=*/10, /*burst=*/3);
  EXPECT_EQ(limiter.When("a"), nanoseconds(0));
  EXPECT_EQ(limiter.When("b"), nanoseconds(0));
  EXPECT_EQ(limiter.When("c"), nanoseconds(0));
  // Each further retry waits 1/qps behind the one before it.
  EXPECT_EQ(limiter.When("d"), milliseconds(100));
  EXPECT_EQ(limiter.When("e"), milliseconds(200));
  EXPECT_EQ(limiter.When("f"), milliseconds(300));
  EXPECT_EQ(limiter.NumRequeues("d"), 0);
}

TEST(BucketRateLimiter, TokensRefillWithTimeUpToTheBurst) {
  FakeClock clock;
  BucketRateLimiter limiter(clock, /*qps=*/10, /*burst=*/2);
  limiter.When("a");
  limiter.When("b");
  EXPECT_EQ(limiter.When("c"), milliseconds(100));  // Promised the token due in 100 ms.

  clock.Advance(milliseconds(100));  // That token is now c's.
  EXPECT_EQ(limiter.When("d"), milliseconds(100));

  clock.Advance(seconds(60));  // Refills to the burst, not to 600 tokens.
  EXPECT_EQ(limiter.When("e"), nanoseconds(0));
  EXPECT_EQ(limiter.When("f"), nanoseconds(0));
  EXPECT_EQ(limiter.When("g"), milliseconds(100));
}

TEST(BucketRateLimiter, NonPositiveQpsMeansNoLimit) {
  FakeClock clock;
  BucketRateLimiter limiter(clock, /*qps=*/0, /*burst=*/1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.When("a"), nanoseconds(0));
}

TEST(MaxOfRateLimiter, ReturnsTheLongestWaitAndEveryLimiterCounts) {
  FakeClock clock;
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(std::make_unique<ExponentialFailureRateLimiter>(milliseconds(5), seconds(1)));
  limiters.push_back(std::make_unique<BucketRateLimiter>(clock, /*qps=*/1, /*burst=*/1));
  MaxOfRateLimiter limiter(std::move(limiters));

  EXPECT_EQ(limiter.When("a"), milliseconds(5));  // Backoff 5 ms; the bucket's token is free.
  EXPECT_EQ(limiter.When("b"), seconds(1));       // Backoff 5 ms; the bucket is empty.
  EXPECT_EQ(limiter.When("a"), seconds(2));       // Backoff 10 ms; bucket 2 s.
  EXPECT_EQ(limiter.NumRequeues("a"), 2);

  limiter.Forget("a");
  EXPECT_EQ(limiter.NumRequeues("a"), 0);
}

TEST(NewControllerRateLimiter, UsesClientGoDefaults) {
  FakeClock clock;
  std::unique_ptr<RateLimiter> limiter = NewControllerRateLimiter(clock);
  // The bucket (burst 100) does not delay the first 100 retries; the backoff decides.
  EXPECT_EQ(limiter->When("a"), milliseconds(5));
  EXPECT_EQ(limiter->When("a"), milliseconds(10));
  for (int i = 0; i < 98; ++i)
    EXPECT_EQ(limiter->When("key-" + std::to_string(i)), milliseconds(5));
  // The 101st retry in the same instant waits for the bucket: 1/10 s.
  EXPECT_EQ(limiter->When("another"), milliseconds(100));
}

TEST(NewControllerRateLimiter, IsConfigurable) {
  FakeClock clock;
  std::unique_ptr<RateLimiter> limiter = NewControllerRateLimiter(
      clock, {.base_delay = milliseconds(1), .max_delay = milliseconds(3), .qps = 1, .burst = 1});
  EXPECT_EQ(limiter->When("a"), milliseconds(1));
  EXPECT_EQ(limiter->When("b"), seconds(1));
  clock.Advance(seconds(10));
  EXPECT_EQ(limiter->When("a"), milliseconds(2));
  clock.Advance(seconds(10));
  EXPECT_EQ(limiter->When("a"), milliseconds(3));
}

TEST(FakeClock, StandsStillUntilAdvancedAndTellsWatchers) {
  FakeClock clock;
  const Clock::TimePoint start = clock.Now();
  int jumps = 0;
  const int64_t id = clock.WatchJumps([&] { ++jumps; });
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(milliseconds(7));
  EXPECT_EQ(clock.Now() - start, milliseconds(7));
  EXPECT_EQ(jumps, 1);
  clock.StopWatching(id);
  clock.Advance(milliseconds(1));
  EXPECT_EQ(jumps, 1);
}

}  // namespace
}  // namespace gpuop::kube
