#pragma once

// HTTP(S) over libcurl, as the Kubernetes API client and the OCI registry client need it: TLS trust
// and client identity from PEM text held in memory (kubeconfig "-data" fields), a timeout on every
// call, kept-alive connections, and a streaming mode for watches. Thread-safe: calls from many
// threads share a small pool of connections, or with HttpClientOptions.share_connections,
// HTTP/2 connections that carry their calls side by side.
//
//   HttpClient client(tls);
//   absl::StatusOr<HttpResponse> r = client.Send({.method = "GET", .url = server + "/version"});

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace gpuop::common {

struct TlsOptions {
  std::string ca_pem;           // Trusted CAs; empty = the system's trust store.
  std::string client_cert_pem;  // Client certificate and key, both or neither.
  std::string client_key_pem;
  // Only when a kubeconfig says so explicitly; never a default.
  bool insecure_skip_verify = false;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // "Name", "value"
  std::string body;
  // The whole exchange, connect to last byte; for streams, how long the stream may stay open.
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  // When set and it turns true, the call ends within about a second with Cancelled, also while
  // a stream is idle. Lets a watch stop cleanly on shutdown.
  const std::atomic<bool>* cancel = nullptr;
  // The most body bytes collected (Send's body, or a stream's non-2xx body); past it the call
  // fails with ResourceExhausted, so a remote party cannot make us hold any amount. 0: no limit
  // (the API server, whose lists grow with the cluster).
  size_t max_body = 0;
};

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // Names in lower case.
  std::string body;

  // The first header of that (lower-case) name, or empty.
  std::string_view Header(std::string_view lower_case_name) const;
  // The Retry-After header in whole seconds (what registries and the API server send), or
  // nullopt when it is absent, negative or not a number.
  std::optional<std::chrono::seconds> RetryAfter() const;
};

class HttpMultiplexer;

struct HttpClientOptions {
  // Send's calls over TLS from all threads share HTTP/2 connections, one call a stream, driven
  // by one thread of the client's (HttpMultiplexer); streams, and calls to http:// URLs, keep a
  // connection each. For a client that makes many concurrent calls to one HTTP/2 server: the
  // apiserver. Off, each call runs on a kept-alive HTTP/1.1 connection of its own.
  bool share_connections = false;
};

class HttpClient {
 public:
  explicit HttpClient(TlsOptions tls, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs the request and returns the response, whatever its status code. Errors are
  // transport failures only: Unavailable (cannot connect, connection reset), DeadlineExceeded
  // (timeout), FailedPrecondition for TLS failures (untrusted server, bad client certificate),
  // Cancelled when request.cancel was set; each message carries curl's reason.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request);

  // Called with each piece of the body as it arrives; return false to end the stream.
  using ChunkHandler = std::function<bool(std::string_view chunk)>;

  // Like Send, but hands the body to `on_chunk` as it arrives instead of collecting it, for
  // watches. The returned response has the status and headers and an empty body unless the
  // status is not 2xx (then the body is collected, to carry the API's error). Ending the
  // stream from on_chunk is not an error.
  absl::StatusOr<HttpResponse> Stream(const HttpRequest& request, const ChunkHandler& on_chunk);

 private:
  struct Handle;
  // Whether a Send goes through the multiplexer (streams never do): calls over TLS, where
  // HTTP/2 is negotiated. Plain http:// has no negotiation, and curl would hold concurrent calls
  // until the first one ended to learn that its connection cannot multiplex.
  bool Shares(const HttpRequest& request) const;
  // Handles come from, and go back to, the pool of their kind: a handle that ran a call of its
  // own keeps that connection, which a shared call would never use.
  std::unique_ptr<Handle> Acquire(bool shared);
  void Release(std::unique_ptr<Handle> handle, bool shared);
  absl::StatusOr<HttpResponse> Perform(Handle& handle, const HttpRequest& request, bool shared,
                                       const ChunkHandler* on_chunk);

  const TlsOptions tls_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Handle>> idle_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Handle>> idle_shared_ ABSL_GUARDED_BY(mu_);
  // Last: its thread ends, and its transfers with it, before the handles above are freed.
  std::unique_ptr<HttpMultiplexer> multiplexer_;
};

}  // namespace gpuop::common
