#include "kube/workqueue.h"

#include <utility>

#include "absl/time/time.h"

namespace gpuop::kube {

WorkQueue::WorkQueue() : WorkQueue(SteadyClock::Instance(), nullptr) {}

WorkQueue::WorkQueue(Clock& clock, std::unique_ptr<RateLimiter> limiter)
    : clock_(clock),
      limiter_(limiter != nullptr ? std::move(limiter) : NewControllerRateLimiter(clock)) {
  // Last, once every member exists: the callback may run at once on another thread.
  clock_watch_id_ = clock_.WatchJumps([this] { OnClockJump(); });
}

WorkQueue::~WorkQueue() {
  // First, and without mu_ held: the clock holds its own lock while calling OnClockJump.
  clock_.StopWatching(clock_watch_id_);
  ShutDown();
}

void WorkQueue::Add(const std::string& key) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return;
  // Keys that became ready before this one go first, as if a timer had queued them on time.
  PromoteDueLocked();
  AddLocked(key);
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::nanoseconds delay) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return;
  PromoteDueLocked();
  AddAfterLocked(key, delay);
}

void WorkQueue::AddRateLimited(const std::string& key) {
  // Outside mu_: the limiter has its own lock.
  const std::chrono::nanoseconds delay = limiter_->When(key);
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return;
  ++retries_total_;
  PromoteDueLocked();
  AddAfterLocked(key, delay);
}

void WorkQueue::Forget(const std::string& key) { limiter_->Forget(key); }

int WorkQueue::NumRequeues(const std::string& key) const { return limiter_->NumRequeues(key); }

std::optional<std::string> WorkQueue::Get() {
  absl::MutexLock lock(&mu_);
  while (true) {
    if (shutting_down_) return std::nullopt;
    PromoteDueLocked();
    if (!fifo_.empty()) break;
    if (delayed_.empty()) {
      ready_.Wait(&mu_);
    } else {
      // After PromoteDueLocked the earliest ready time is in the future. With a FakeClock this
      // timeout only costs a spurious wake-up; OnClockJump is what wakes us.
      ready_.WaitWithTimeout(&mu_, absl::FromChrono(delayed_.begin()->first - clock_.Now()));
    }
  }
  std::string key = std::move(fifo_.front());
  fifo_.pop_front();
  dirty_.erase(key);
  processing_.insert(key);
  return key;
}

void WorkQueue::Done(const std::string& key) {
  absl::MutexLock lock(&mu_);
  if (processing_.erase(key) == 0) return;
  if (!shutting_down_ && dirty_.contains(key)) {
    fifo_.push_back(key);
    ready_.Signal();
  }
}

void WorkQueue::ShutDown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  fifo_.clear();
  dirty_.clear();
  delayed_.clear();
  delayed_index_.clear();
  ready_.SignalAll();
}

void WorkQueue::ShutDownWithDrain() {
  ShutDown();
  absl::MutexLock lock(&mu_);
  // Done runs under mu_, and absl re-evaluates the condition whenever mu_ is released.
  mu_.Await(absl::Condition(
      +[](absl::flat_hash_set<std::string>* processing) { return processing->empty(); },
      &processing_));
}

bool WorkQueue::ShuttingDown() const {
  absl::MutexLock lock(&mu_);
  return shutting_down_;
}

size_t WorkQueue::Len() const {
  absl::MutexLock lock(&mu_);
  // Without promoting (this is const): count the due delayed keys that a promotion would queue.
  size_t due = 0;
  const Clock::TimePoint now = clock_.Now();
  for (auto it = delayed_.begin(); it != delayed_.end() && it->first <= now; ++it) {
    if (!dirty_.contains(it->second)) ++due;
  }
  return fifo_.size() + due;
}

int64_t WorkQueue::AddsTotal() const {
  absl::MutexLock lock(&mu_);
  return adds_total_;
}

int64_t WorkQueue::RetriesTotal() const {
  absl::MutexLock lock(&mu_);
  return retries_total_;
}

void WorkQueue::AddLocked(const std::string& key) {
  if (!dirty_.insert(key).second) return;  // Already waiting, or processing and marked.
  ++adds_total_;
  if (processing_.contains(key)) return;  // Done re-queues it.
  fifo_.push_back(key);
  ready_.Signal();
}

void WorkQueue::AddAfterLocked(const std::string& key, std::chrono::nanoseconds delay) {
  if (delay <= std::chrono::nanoseconds(0)) {
    AddLocked(key);
    return;
  }
  const Clock::TimePoint ready_at = clock_.Now() + delay;
  if (const auto it = delayed_index_.find(key); it != delayed_index_.end()) {
    if (it->second->first <= ready_at) return;  // The earlier time wins, as in client-go.
    delayed_.erase(it->second);
    it->second = delayed_.emplace(ready_at, key);
  } else {
    delayed_index_.emplace(key, delayed_.emplace(ready_at, key));
  }
  // A sleeping Get may be waiting for a later time than this one.
  ready_.Signal();
}

void WorkQueue::PromoteDueLocked() {
  const Clock::TimePoint now = clock_.Now();
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    auto node = delayed_.extract(delayed_.begin());
    delayed_index_.erase(node.mapped());
    AddLocked(node.mapped());
  }
}

void WorkQueue::OnClockJump() {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return;
  PromoteDueLocked();
  ready_.SignalAll();
}

}  // namespace gpuop::kube
