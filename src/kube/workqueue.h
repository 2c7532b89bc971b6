#pragma once

// The queue between informer handlers and a controller's workers, as client-go's rate-limited
// workqueue: keys, not objects, so that many changes to one object collapse into one reconcile;
// one worker at a time per key; delayed and rate-limited retries.
//
//   WorkQueue queue;  // Real clock, NewControllerRateLimiter.
//   // Informer handler:  queue.Add(key);
//   // Each worker:
//   while (std::optional<std::string> key = queue.Get()) {
//     if (Reconcile(*key).ok()) queue.Forget(*key); else queue.AddRateLimited(*key);
//     queue.Done(*key);
//   }
//   // Shutdown:  queue.ShutDownWithDrain(); then join the workers.
//
// A key is in at most one of these states, plus possibly delayed (AddAfter) independently:
//   waiting     in the FIFO, to be handed out by Get;
//   processing  handed out, not yet Done; an Add now marks it dirty, and Done re-queues it once.
//
// Time and waking. Delays are measured on an injected Clock. There is no timer thread: a
// worker blocked in Get moves keys whose time has come into the FIFO itself, sleeping on a
// condition variable until the earliest ready time (a real timeout computed from Clock times).
// With a FakeClock that timeout means nothing, so the queue also registers with
// Clock::WatchJumps: each FakeClock::Advance calls back into the queue, which moves due keys
// into the FIFO and wakes its sleepers. Tests thus see exactly what is ready right after
// Advance(), with no real waiting. The real clock never jumps, so it ignores the registration.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

#include "kube/rate_limiter.h"

namespace gpuop::kube {

class WorkQueue {
 public:
  // The real clock and NewControllerRateLimiter.
  WorkQueue();
  // `clock` must outlive the queue. A null `limiter` means NewControllerRateLimiter(clock).
  WorkQueue(Clock& clock, std::unique_ptr<RateLimiter> limiter);
  // Shuts down. Join every thread that calls Get before destroying the queue.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `key` unless it is already waiting; a key being processed is re-queued by Done.
  void Add(const std::string& key);
  // Queues `key` once `delay` has passed (at once if delay <= 0). A key already delayed keeps
  // the earlier of its two ready times.
  void AddAfter(const std::string& key, std::chrono::nanoseconds delay);
  // AddAfter(key, the rate limiter's When(key)): a retry after a failure.
  void AddRateLimited(const std::string& key);
  // Clears the rate limiter's failure count for `key`: call it after a success.
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;

  // Blocks until a key is ready and hands it out (FIFO), or returns nullopt once the queue is
  // shut down: the worker should then return. Keys still waiting at shutdown are dropped.
  std::optional<std::string> Get();
  // Ends processing of a key Get handed out; re-queues it if it was added meanwhile.
  void Done(const std::string& key);

  // Wakes every Get, which returns nullopt; later adds are ignored. Idempotent.
  void ShutDown();
  // ShutDown, then waits until every key handed out is Done.
  void ShutDownWithDrain();
  bool ShuttingDown() const;

  // Keys ready to be handed out now (the depth metric).
  size_t Len() const;
  // Adds that queued a key (not those merged into one already waiting), and AddRateLimited
  // calls; for metrics.
  int64_t AddsTotal() const;
  int64_t RetriesTotal() const;

 private:
  using Delayed = std::multimap<Clock::TimePoint, std::string>;

  void AddLocked(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddAfterLocked(const std::string& key, std::chrono::nanoseconds delay)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves every delayed key whose time has come into the FIFO, earliest first.
  void PromoteDueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnClockJump();

  Clock& clock_;
  const std::unique_ptr<RateLimiter> limiter_;
  int64_t clock_watch_id_ = 0;

  mutable absl::Mutex mu_;
  absl::CondVar ready_;  // Signalled when a key may be ready, or on shutdown.
  std::deque<std::string> fifo_ ABSL_GUARDED_BY(mu_);
  // Keys to be processed: every key in fifo_, and processing keys added again.
  absl::flat_hash_set<std::string> dirty_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> processing_ ABSL_GUARDED_BY(mu_);
  // By ready time; equal times keep the order they were added in. At most one entry per key,
  // found through delayed_index_.
  Delayed delayed_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Delayed::iterator> delayed_index_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  int64_t adds_total_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t retries_total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace gpuop::kube
