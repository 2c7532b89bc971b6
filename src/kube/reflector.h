#pragma once

// Keeps a sink in step with one kind of object on the API server, as client-go's Reflector
// does: list (paged), then watch from the list's resourceVersion; after a watch ends, watch
// again from the last version seen (bookmarks included); on 410 Gone / Expired, list again; on
// transport errors, retry with jittered exponential backoff. Runs until its StopSignal fires.

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "common/stop_signal.h"
#include "kube/rest_client.h"
#include "kube/watch_event.h"

namespace gpuop::kube {

struct ListWatchOptions {
  std::string label_selector;
  std::string field_selector;
  bool metadata_only = false;  // PartialObjectMetadata for list and watch.
  int64_t page_size = 500;
  // The server ends each watch after about this long (it adds jitter); we then rewatch.
  std::chrono::seconds watch_timeout = std::chrono::minutes(5);
  std::chrono::milliseconds min_backoff = std::chrono::milliseconds(500);
  std::chrono::milliseconds max_backoff = std::chrono::seconds(30);
};

// Receives what the reflector learns, as simdjson elements that are valid only during the call.
// Called from the reflector's thread only.
class ReflectorSink {
 public:
  virtual ~ReflectorSink() = default;
  // A (re)list: StartReplace, then each object of the complete current set, page by page, then
  // FinishReplace. A list that fails half-way is never finished; the next starts afresh.
  virtual void StartReplace() = 0;
  virtual void AddToReplace(JsonElement object) = 0;
  virtual void FinishReplace() = 0;
  // One change (never a bookmark).
  virtual void Apply(const WatchEvent& event) = 0;
};

class Reflector {
 public:
  Reflector(RestClient& client, Resource resource, std::string ns, ListWatchOptions options,
            ReflectorSink& sink);

  // Lists and watches until `stop` fires. Errors are retried, never returned: a controller's
  // cache must heal by itself. The last one is kept for LastError().
  void Run(const common::StopSignal& stop);

  // For metrics and tests.
  int64_t Lists() const { return lists_.load(); }
  int64_t Watches() const { return watches_.load(); }
  std::string LastError() const;

 private:
  absl::Status ListOnce();
  // One page: its objects go to the sink; the list's version is kept from the first page.
  absl::Status ListPageOnce(simdjson::dom::parser& parser, std::string& continue_token,
                            std::string& list_version);
  absl::Status WatchOnce(const common::StopSignal& stop, bool& made_progress);

  RestClient& client_;
  const Resource resource_;
  const std::string ns_;
  const ListWatchOptions options_;
  ReflectorSink& sink_;
  std::string resource_version_;        // Where the next watch starts; empty = list first.
  simdjson::dom::parser watch_parser_;  // Reused across events: it keeps its buffers.
  std::atomic<int64_t> lists_{0};
  std::atomic<int64_t> watches_{0};
  mutable absl::Mutex error_mu_;
  std::string last_error_ ABSL_GUARDED_BY(error_mu_);
};

}  // namespace gpuop::kube
