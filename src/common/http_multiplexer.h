#pragma once

// Runs prepared curl transfers from many threads over shared connections: one thread drives a
// curl multi handle, so that concurrent calls to one HTTP/2 server (the apiserver) travel as
// streams of one connection instead of a connection (TLS session, record buffers, socket) per
// calling thread. Callers block until their transfer ends, as with curl_easy_perform.
// Thread-safe. Used by HttpClient; nothing else touches curl's multi interface.
//
//   HttpMultiplexer multiplexer;
//   CURLcode code = multiplexer.Perform(easy);  // easy: options set, not in any multi.

#include <curl/curl.h>

#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace gpuop::common {

class HttpMultiplexer {
 public:
  HttpMultiplexer();
  // Ends the driving thread; transfers still running end with CURLE_ABORTED_BY_CALLBACK.
  ~HttpMultiplexer();
  HttpMultiplexer(const HttpMultiplexer&) = delete;
  HttpMultiplexer& operator=(const HttpMultiplexer&) = delete;

  // Runs `easy` to its end on the shared connections and returns its result. The handle's
  // callbacks run on the multiplexer's thread while this call waits.
  CURLcode Perform(CURL* easy);

 private:
  struct Pending;
  void Run();

  CURLM* const multi_;
  absl::Mutex mu_;
  std::vector<Pending*> submitted_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Last: starts once the members above exist.
  std::thread thread_;
};

}  // namespace gpuop::common
