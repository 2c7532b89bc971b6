#include "common/http_multiplexer.h"

#include <unordered_set>

namespace gpuop::common {
namespace {

// The longest the thread sleeps in curl_multi_poll when curl has no timer of its own due
// sooner; a new transfer or the destructor wakes it at once.
constexpr int kPollMilliseconds = 1000;

}  // namespace

struct HttpMultiplexer::Pending {
  CURL* easy = nullptr;
  CURLcode result = CURLE_OK;
  bool done = false;  // Guarded by the multiplexer's mu_.
};

HttpMultiplexer::HttpMultiplexer() : multi_(curl_multi_init()) {
  if (multi_ != nullptr) {
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
  }
  thread_ = std::thread([this] { Run(); });
}

HttpMultiplexer::~HttpMultiplexer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (multi_ != nullptr) curl_multi_wakeup(multi_);
  thread_.join();
  if (multi_ != nullptr) curl_multi_cleanup(multi_);
}

CURLcode HttpMultiplexer::Perform(CURL* easy) {
  if (multi_ == nullptr) return CURLE_OUT_OF_MEMORY;
  Pending pending{.easy = easy};
  absl::MutexLock lock(&mu_);
  if (stopping_) return CURLE_ABORTED_BY_CALLBACK;
  submitted_.push_back(&pending);
  curl_multi_wakeup(multi_);
  // The thread sets `done` under mu_, so once this wait returns it no longer touches `pending`.
  mu_.Await(absl::Condition(&pending.done));
  return pending.result;
}

void HttpMultiplexer::Run() {
  if (multi_ == nullptr) return;
  std::unordered_set<Pending*> running;
  const auto finish = [&](Pending* pending, CURLcode result) {
    absl::MutexLock lock(&mu_);
    pending->result = result;
    pending->done = true;
  };
  for (;;) {
    std::vector<Pending*> added;
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      added.swap(submitted_);
      stopping = stopping_;
    }
    if (stopping) {
      for (Pending* pending : added) finish(pending, CURLE_ABORTED_BY_CALLBACK);
      break;
    }
    for (Pending* pending : added) {
      curl_easy_setopt(pending->easy, CURLOPT_PRIVATE, pending);
      if (curl_multi_add_handle(multi_, pending->easy) != CURLM_OK) {
        finish(pending, CURLE_FAILED_INIT);
      } else {
        running.insert(pending);
      }
    }
    int still_running = 0;
    curl_multi_perform(multi_, &still_running);
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      // Read before the removal, which frees the message.
      CURL* easy = message->easy_handle;
      const CURLcode result = message->data.result;
      Pending* pending = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &pending);
      curl_multi_remove_handle(multi_, easy);
      running.erase(pending);
      finish(pending, result);
    }
    curl_multi_poll(multi_, nullptr, 0, kPollMilliseconds, nullptr);
  }
  for (Pending* pending : running) {
    curl_multi_remove_handle(multi_, pending->easy);
    finish(pending, CURLE_ABORTED_BY_CALLBACK);
  }
}

}  // namespace gpuop::common
