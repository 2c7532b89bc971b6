#include "kube/workqueue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace gpuop::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;

// Hands out every key that is ready now, marking each Done. Never blocks: it takes only Len().
std::vector<std::string> DrainReady(WorkQueue& queue) {
  std::vector<std::string> keys;
  for (size_t ready = queue.Len(); ready > 0; --ready) {
    std::optional<std::string> key = queue.Get();
    if (!key) break;
    queue.Done(*key);
    keys.push_back(*key);
  }
  return keys;
}

// A queue on a fake clock, with a limiter that only backs off (no token bucket) unless given one.
struct FakeTimeQueue {
  explicit FakeTimeQueue(std::unique_ptr<RateLimiter> limiter =
                             std::make_unique<ExponentialFailureRateLimiter>(milliseconds(5),
                                                                             seconds(1000)))
      : queue(clock, std::move(limiter)) {}
  FakeClock clock;
  WorkQueue queue;
};

TEST(WorkQueue, HandsOutKeysInTheOrderTheyWereAdded) {
  FakeTimeQueue q;
  for (const char* key : {"c", "a", "b"}) q.queue.Add(key);
  EXPECT_THAT(DrainReady(q.queue), ElementsAre("c", "a", "b"));
}

TEST(WorkQueue, AKeyAddedTwiceWhileWaitingIsHandedOutOnce) {
  FakeTimeQueue q;
  q.queue.Add("a");
  q.queue.Add("b");
  q.queue.Add("a");
  EXPECT_EQ(q.queue.Len(), 2u);
  EXPECT_EQ(q.queue.AddsTotal(), 2);
  EXPECT_THAT(DrainReady(q.queue), ElementsAre("a", "b"));
}

TEST(WorkQueue, KeyBeingProcessedIsRequeuedOnceAfterDone) {
  FakeTimeQueue q;
  q.queue.Add("a");
  std::optional<std::string> key = q.queue.Get();
  ASSERT_EQ(key, "a");

  q.queue.Add("a");
  q.queue.Add("a");
  EXPECT_EQ(q.queue.Len(), 0u);  // Not handed to a second worker while the first has it.

  q.queue.Done("a");
  EXPECT_EQ(q.queue.Len(), 1u);
  EXPECT_THAT(DrainReady(q.queue), ElementsAre("a"));
  EXPECT_EQ(q.queue.Len(), 0u);
}

TEST(WorkQueue, AKeyDoneWithoutNewAddsIsNotRequeued) {
  FakeTimeQueue q;
  q.queue.Add("a");
  ASSERT_EQ(q.queue.Get(), "a");
  q.queue.Done("a");
  EXPECT_EQ(q.queue.Len(), 0u);
}

TEST(WorkQueue, AddAfterMakesTheKeyReadyOnlyOnceTheClockHasAdvanced) {
  FakeTimeQueue q;
  q.queue.AddAfter("a", milliseconds(50));
  EXPECT_EQ(q.queue.Len(), 0u);
  q.clock.Advance(milliseconds(49));
  EXPECT_EQ(q.queue.Len(), 0u);
  q.clock.Advance(milliseconds(1));
  EXPECT_EQ(q.queue.Len(), 1u);
  EXPECT_THAT(DrainReady(q.queue), ElementsAre("a"));
}

TEST(WorkQueue, AddAfterWithNoDelayIsAPlainAdd) {
  FakeTimeQueue q;
  q.queue.AddAfter("a", milliseconds(0));
  q.queue.AddAfter("b", milliseconds(-5));
  EXPECT_THAT(DrainReady(q.queue), ElementsAre("a", "b"));
}

TEST(WorkQueue, DelayedKeysBecomeReadyInReadyTimeOrder) {
  FakeTimeQueue q;
  q.queue.AddAfter("late", milliseconds(30));
  q.queue.AddAfter("early", milliseconds(10));
  q.queue.AddAfter("middle", milliseconds(20));
  q.clock.Advance(milliseconds(30));
  EXPECT_THAT(DrainReady(q.queue), ElementsAre("early", "middle", "late"));
}

TEST(WorkQueue, TheEarlierReadyTimeOfADelayedKeyWins) {
  FakeTimeQueue q;
  q.queue.AddAfter("a", milliseconds(20));
  q.queue.AddAfter("a", milliseconds(50));  // Later: ignored.
  q.queue.AddAfter("b", milliseconds(40));
  q.queue.AddAfter("b", milliseconds(10));  // Earlier: replaces 40 ms.

  q.clock.Advance(milliseconds(10));
  EXPECT_THAT(DrainReady(q.queue), ElementsAre("b"));
  q.clock.Advance(milliseconds(10));
  EXPECT_THAT(DrainReady(q.queue), ElementsAre("a"));
  q.clock.Advance(seconds(1));
  EXPECT_THAT(DrainReady(q.queue), ::testing::IsEmpty());  // Neither comes back.
}

TEST(WorkQueue, ADelayedKeyAlreadyWaitingIsNotHandedOutTwice) {
  FakeTimeQueue q;
  q.queue.AddAfter("a", milliseconds(10));
  q.queue.Add("a");
  q.clock.Advance(milliseconds(10));
  EXPECT_EQ(q.queue.Len(), 1u);
  EXPECT_THAT(DrainReady(q.queue), ElementsAre("a"));
}

TEST(WorkQueue, AdvancingTheClockWakesABlockedGet) {
  FakeTimeQueue q;
  q.queue.AddAfter("a", seconds(1000));
  std::optional<std::string> got;
  std::thread worker([&] { got = q.queue.Get(); });
  q.clock.Advance(seconds(1000));
  worker.join();
  EXPECT_EQ(got, "a");
}

TEST(WorkQueue, AddRateLimitedWaitsForTheBackoffAndCountsRetries) {
  FakeTimeQueue q;
  q.queue.AddRateLimited("a");
  EXPECT_EQ(q.queue.NumRequeues("a"), 1);
  EXPECT_EQ(q.queue.Len(), 0u);
  q.clock.Advance(milliseconds(5));
  EXPECT_THAT(DrainReady(q.queue), ElementsAre("a"));

  q.queue.AddRateLimited("a");  // Second failure: 10 ms.
  q.clock.Advance(milliseconds(9));
  EXPECT_EQ(q.queue.Len(), 0u);
  q.clock.Advance(milliseconds(1));
  EXPECT_THAT(DrainReady(q.queue), ElementsAre("a"));
  EXPECT_EQ(q.queue.NumRequeues("a"), 2);
  EXPECT_EQ(q.queue.RetriesTotal(), 2);
}

TEST(WorkQueue, ForgetResetsTheBackoff) {
  FakeTimeQueue q;
  q.queue.AddRateLimited("a");
  q.queue.AddRateLimited("a");
  q.queue.Forget("a");
  EXPECT_EQ(q.queue.NumRequeues("a"), 0);
  q.clock.Advance(seconds(1));
  EXPECT_THAT(DrainReady(q.queue), ElementsAre("a"));

  q.queue.AddRateLimited("a");
  q.clock.Advance(milliseconds(5));  // The first backoff again.
  EXPECT_THAT(DrainReady(q.queue), ElementsAre("a"));
}

TEST(WorkQueue, DefaultLimiterSpacesOutABurstOfRetries) {
  FakeClock clock;
  WorkQueue queue(clock, nullptr);
  for (int i = 0; i < 101; ++i) queue.AddRateLimited("key-" + std::to_string(i));
  clock.Advance(milliseconds(5));
  EXPECT_EQ(queue.Len(), 100u);  // The burst; the 101st waits for a token, 100 ms.
  clock.Advance(milliseconds(95));
  EXPECT_EQ(queue.Len(), 101u);
}

TEST(WorkQueue, ShutDownWakesABlockedGet) {
  FakeTimeQueue q;
  std::optional<std::string> got = "unset";
  std::thread worker([&] { got = q.queue.Get(); });
  q.queue.ShutDown();
  worker.join();
  EXPECT_EQ(got, std::nullopt);
}

TEST(WorkQueue, AfterShutDownGetReturnsNothingAndAddsAreIgnored) {
  FakeTimeQueue q;
  q.queue.Add("a");
  q.queue.ShutDown();
  EXPECT_TRUE(q.queue.ShuttingDown());
  EXPECT_EQ(q.queue.Get(), std::nullopt);
  q.queue.Add("b");
  q.queue.AddAfter("c", milliseconds(1));
  q.queue.AddRateLimited("d");
  q.clock.Advance(seconds(1));
  EXPECT_EQ(q.queue.Len(), 0u);
  EXPECT_EQ(q.queue.Get(), std::nullopt);
}

TEST(WorkQueue, ShutDownWithDrainWaitsForTheKeyInFlightAndDropsTheRest) {
  FakeTimeQueue q;
  q.queue.Add("in-flight");
  q.queue.Add("waiting");
  ASSERT_EQ(q.queue.Get(), "in-flight");

  std::atomic<bool> done_called{false};
  bool drain_returned_after_done = false;
  absl::Notification drained;
  std::thread drainer([&] {
    q.queue.ShutDownWithDrain();
    drain_returned_after_done = done_called.load();
    drained.Notify();
  });
  // Once shutdown has begun, the drainer is waiting (or about to wait) for "in-flight".
  while (!q.queue.ShuttingDown()) std::this_thread::yield();
  EXPECT_FALSE(drained.HasBeenNotified());
  EXPECT_EQ(q.queue.Get(), std::nullopt);  // "waiting" was dropped.

  q.queue.Add("in-flight");  // Ignored: must not be re-queued by Done.
  done_called = true;
  q.queue.Done("in-flight");
  drainer.join();
  EXPECT_TRUE(drain_returned_after_done);
  EXPECT_EQ(q.queue.Len(), 0u);
}

TEST(WorkQueue, ShutDownWithDrainReturnsAtOnceWhenNothingIsInFlight) {
  FakeTimeQueue q;
  q.queue.Add("a");
  q.queue.ShutDownWithDrain();
  EXPECT_EQ(q.queue.Get(), std::nullopt);
}

TEST(WorkQueue, ConcurrentWorkersNeverHoldTheSameKeyAtOnce) {
  constexpr int kWorkers = 4;
  constexpr int kKeys = 8;
  constexpr int kAdds = 2000;
  FakeTimeQueue q;

  absl::Mutex mu;
  absl::flat_hash_set<std::string> in_flight;
  int overlaps = 0;
  int64_t handed_out = 0;

  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (std::optional<std::string> key = q.queue.Get()) {
        {
          absl::MutexLock lock(&mu);
          if (!in_flight.insert(*key).second) ++overlaps;
          ++handed_out;
        }
        std::this_thread::yield();  // Let others try to take the same key meanwhile.
        {
          absl::MutexLock lock(&mu);
          in_flight.erase(*key);
        }
        q.queue.Done(*key);
      }
    });
  }
  for (int i = 0; i < kAdds; ++i) q.queue.Add("key-" + std::to_string(i % kKeys));

  // Every add that was not merged into a waiting key leads to exactly one hand-out.
  const int64_t accepted = q.queue.AddsTotal();
  {
    absl::MutexLock lock(&mu);
    const auto all_handed_out = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu) {
      return handed_out == accepted;
    };
    // The timeout only keeps a bug from hanging the test run; nothing depends on its length.
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_handed_out), absl::Seconds(30)));
  }
  q.queue.ShutDownWithDrain();
  for (std::thread& worker : workers) worker.join();

  absl::MutexLock lock(&mu);
  EXPECT_EQ(overlaps, 0);
  EXPECT_EQ(handed_out, accepted);
  EXPECT_GE(accepted, kKeys);
  EXPECT_LE(accepted, kAdds);
}

}  // namespace
}  // namespace gpuop::kube
