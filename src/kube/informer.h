#pragma once

// A local, always-current, thread-safe cache of one kind of object, kept as projections the
// caller defines (for Nodes: name, labels, resourceVersion; never whole objects), with handlers
// that hear of every add, update and delete (to enqueue keys in a workqueue). Fed by a
// Reflector on its own thread.
//
//   struct NodeView { LabelSet labels; };
//   Informer<NodeView> nodes(client, resources::kNodes, "", {.metadata_only = true},
//                            [](JsonElement o) { return NodeView{LabelSet::FromElement(...)}; },
//                            {.on_add = [&](const std::string& key) { queue.Add(key); }});
//   nodes.Start();
//   nodes.WaitForSync(std::chrono::seconds(30));

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

#include "common/stop_signal.h"
#include "kube/reflector.h"

namespace gpuop::kube {

// Handlers run on the informer's thread, without its lock held, so they may read the cache.
struct InformerHandlers {
  std::function<void(const std::string& key)> on_add;
  std::function<void(const std::string& key)> on_update;
  std::function<void(const std::string& key)> on_delete;
  // The first list's objects join the cache, and on_add hears of each, page by page rather than
  // once the list is whole (HasSynced is false until it is): for a consumer that can start on
  // the first page while the server sends the rest (5,000 Nodes take a second to list). Should
  // that list fail half-way, the next attempt's handlers also run before the sync (on_update
  // for what changed meanwhile), except on_delete for what it no longer has. Later relists are
  // swapped in whole, as always.
  bool fill_while_listing = false;
};

template <typename T>
class Informer final : private ReflectorSink {
 public:
  // Turns a parsed object into what the cache keeps; the element dies after the call.
  using Projection = std::function<T(JsonElement object)>;

  Informer(RestClient& client, Resource resource, std::string ns, ListWatchOptions options,
           Projection project, InformerHandlers handlers = {})
      : project_(std::move(project)),
        handlers_(std::move(handlers)),
        reflector_(client, std::move(resource), std::move(ns), std::move(options), *this) {}
  ~Informer() override { Stop(); }
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void Start() {
    thread_ = std::thread([this] { reflector_.Run(stop_); });
  }
  // Asks the watch to end without waiting for it: a component with several informers asks
  // them all first, so that their ends (about a second each) overlap before it joins them.
  void RequestStop() { stop_.Stop(); }
  // Ends the watch (within about a second) and joins the thread. Idempotent.
  void Stop() {
    stop_.Stop();
    if (thread_.joinable()) thread_.join();
  }

  // True once the first list has been stored.
  bool HasSynced() const {
    absl::MutexLock lock(&mu_);
    return synced_;
  }
  bool WaitForSync(std::chrono::milliseconds timeout) const {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&synced_), absl::FromChrono(timeout));
  }

  std::optional<T> Get(const std::string& key) const {
    absl::MutexLock lock(&mu_);
    const auto it = items_.find(key);
    if (it == items_.end()) return std::nullopt;
    return it->second.view;
  }
  std::vector<std::string> Keys() const {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> keys;
    keys.reserve(items_.size());
    for (const auto& [key, item] : items_) keys.push_back(key);
    return keys;
  }
  size_t Size() const {
    absl::MutexLock lock(&mu_);
    return items_.size();
  }
  // Calls fn(key, view) for each cached object, under the lock: keep fn short.
  void ForEach(const std::function<void(const std::string&, const T&)>& fn) const {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, item] : items_) fn(key, item.view);
  }

  // The list+watch loop behind the cache, for its counters and last error.
  const Reflector& Source() const { return reflector_; }

 private:
  struct Item {
    std::string resource_version;  // To tell a real change from a relist of the same object.
    T view;
  };

  // Relists build the new set beside the old (only this thread touches it), then swap it in
  // under the lock, so readers never see a half-listed cache. Until the first list is whole,
  // the cache may fill as it comes instead (fill_while_listing): each object is added or
  // updated as its page arrives, and once a list completes, what an earlier, failed attempt saw
  // and this one did not is dropped. Every handler of that list but those drops runs before
  // HasSynced turns true.
  void StartReplace() override {
    pending_.clear();
    seen_.clear();
    absl::MutexLock lock(&mu_);
    filling_ = handlers_.fill_while_listing && !synced_;
    // Only after a failed attempt can the cache hold what this list lacks.
    tracking_seen_ = filling_ && !items_.empty();
  }

  void AddToReplace(JsonElement object) override {
    std::string key = ObjectKey(object);
    Item item{ResourceVersionOf(object), project_(object)};
    if (!filling_) {
      pending_.insert_or_assign(std::move(key), std::move(item));
      return;
    }
    const std::function<void(const std::string&)>* handler = nullptr;
    {
      absl::MutexLock lock(&mu_);
      const auto it = items_.find(key);
      if (it == items_.end()) {
        handler = &handlers_.on_add;
      } else if (it->second.resource_version != item.resource_version) {
        handler = &handlers_.on_update;
      }
      items_.insert_or_assign(key, std::move(item));
    }
    if (tracking_seen_) seen_.insert(key);
    if (handler != nullptr && *handler) (*handler)(key);
  }

  void FinishReplace() override {
    if (filling_) {
      std::vector<std::string> gone;
      {
        absl::MutexLock lock(&mu_);
        if (tracking_seen_) {
          for (const auto& [key, item] : items_) {
            if (!seen_.contains(key)) gone.push_back(key);
          }
          for (const std::string& key : gone) items_.erase(key);
        }
        filling_ = false;
        synced_ = true;
      }
      seen_ = {};
      for (const std::string& key : gone) {
        if (handlers_.on_delete) handlers_.on_delete(key);
      }
      return;
    }
    std::vector<std::pair<const std::function<void(const std::string&)>*, std::string>> calls;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [key, item] : pending_) {
        const auto old = items_.find(key);
        if (old == items_.end()) {
          calls.emplace_back(&handlers_.on_add, key);
        } else if (old->second.resource_version != item.resource_version) {
          calls.emplace_back(&handlers_.on_update, key);
        }
      }
      for (const auto& [key, item] : items_) {
        if (!pending_.contains(key)) calls.emplace_back(&handlers_.on_delete, key);
      }
      items_.swap(pending_);
      synced_ = true;
    }
    pending_ = {};  // Frees the old set's memory now rather than at the next relist.
    for (const auto& [handler, key] : calls) {
      if (*handler) (*handler)(key);
    }
  }

  void Apply(const WatchEvent& event) override {
    std::string key = ObjectKey(event.object);
    const std::function<void(const std::string&)>* handler = nullptr;
    if (event.type == WatchEvent::Type::kDeleted) {
      absl::MutexLock lock(&mu_);
      if (items_.erase(key) > 0) handler = &handlers_.on_delete;
    } else {
      // Projected outside the lock, so readers wait less.
      Item item{event.ResourceVersion(), project_(event.object)};
      absl::MutexLock lock(&mu_);
      const bool existed = items_.contains(key);
      items_.insert_or_assign(key, std::move(item));
      handler = existed ? &handlers_.on_update : &handlers_.on_add;
    }
    if (handler != nullptr && *handler) (*handler)(key);
  }

  const Projection project_;
  const InformerHandlers handlers_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Item> items_ ABSL_GUARDED_BY(mu_);
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, Item> pending_;  // The relist in progress.
  // The first list fills items_ as it comes, and after a failed attempt notes what it saw
  // (this thread's own).
  bool filling_ = false;
  bool tracking_seen_ = false;
  absl::flat_hash_set<std::string> seen_;
  common::StopSignal stop_;
  Reflector reflector_;
  std::thread thread_;
};

}  // namespace gpuop::kube
