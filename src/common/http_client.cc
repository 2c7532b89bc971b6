#include "common/http_client.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "common/http_multiplexer.h"

namespace gpuop::common {
namespace {

// Idle handles kept for reuse, each with its connection unless the calls share connections
// (HttpMultiplexer); beyond this, finished handles are closed. Room for the operator's 16 node
// workers beside its informers and other controllers: with fewer, every call past the pool's
// size paid a new TLS handshake when each call had a connection of its own.
constexpr size_t kMaxIdleHandles = 32;
constexpr auto kConnectTimeout = std::chrono::seconds(10);

void InitCurlOnce() {
  // curl_global_init is not thread-safe and must run before any other curl call.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  void Add(const std::string& line) { list = curl_slist_append(list, line.c_str()); }
};

// What the curl callbacks of one call share.
struct Transfer {
  CURL* curl = nullptr;
  HttpResponse* response = nullptr;
  const HttpClient::ChunkHandler* on_chunk = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  size_t max_body = 0;
  bool stopped_by_handler = false;
  bool body_too_large = false;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new status line (after a 100 Continue, say): the headers so far belonged to another
    // response.
    transfer->response->headers.clear();
  } else if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    absl::AsciiStrToLower(&name);
    std::string value(absl::StripAsciiWhitespace(std::string(line.substr(colon + 1))));
    transfer->response->headers.emplace_back(std::move(name), std::move(value));
  }
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::string_view chunk(data, size * count);
  long status = 0;
  curl_easy_getinfo(transfer->curl, CURLINFO_RESPONSE_CODE, &status);
  if (transfer->on_chunk == nullptr || status < 200 || status > 299) {
    if (transfer->max_body != 0 &&
        transfer->response->body.size() + chunk.size() > transfer->max_body) {
      transfer->body_too_large = true;
      return 0;  // Tells curl to abort the transfer.
    }
    transfer->response->body.append(chunk);
    return chunk.size();
  }
  if (!(*transfer->on_chunk)(chunk)) {
    transfer->stopped_by_handler = true;
    return 0;  // Tells curl to abort the transfer.
  }
  return chunk.size();
}

// curl calls this about once a second even while no data flows, which is what lets a
// cancellation end an idle watch.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  return transfer->cancel != nullptr && transfer->cancel->load() ? 1 : 0;
}

constexpr unsigned int kSharedConnectionUserTimeoutMs = 30'000;

int OnSharedSocket(void*, curl_socket_t socket, curlsocktype purpose) {
  if (purpose == CURLSOCKTYPE_IPCXN) {
    const unsigned int timeout = kSharedConnectionUserTimeoutMs;
    // Best effort: without it the connection still works, as every connection did before.
    (void)setsockopt(socket, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof(timeout));
  }
  return CURL_SOCKOPT_OK;
}

// The URL without its query: a blob's redirect carries a signed query (a short-lived
// credential for the registry's storage), and error texts reach logs and Node Events.
std::string WithoutQuery(const std::string& url) { return url.substr(0, url.find('?')); }

absl::Status CurlError(CURLcode code, const char* detail, const HttpRequest& request) {
  const std::string message = absl::StrCat(request.method, " ", WithoutQuery(request.url), ": ",
                                           *detail != '\0' ? detail : curl_easy_strerror(code));
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(message);
    case CURLE_ABORTED_BY_CALLBACK:
      return absl::CancelledError(message);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return absl::UnavailableError(message);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

std::string_view HttpResponse::Header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return value;
  }
  return {};
}

std::optional<std::chrono::seconds> HttpResponse::RetryAfter() const {
  int seconds = 0;
  if (!absl::SimpleAtoi(std::string(Header("retry-after")), &seconds) || seconds < 0) {
    return std::nullopt;
  }
  return std::chrono::seconds(seconds);
}

struct HttpClient::Handle {
  CURL* curl = curl_easy_init();
  ~Handle() { curl_easy_cleanup(curl); }
};

HttpClient::HttpClient(TlsOptions tls, HttpClientOptions options) : tls_(std::move(tls)) {
  InitCurlOnce();
  if (options.share_connections) multiplexer_ = std::make_unique<HttpMultiplexer>();
}

HttpClient::~HttpClient() = default;

bool HttpClient::Shares(const HttpRequest& request) const {
  return multiplexer_ != nullptr && request.url.starts_with("https://");
}

std::unique_ptr<HttpClient::Handle> HttpClient::Acquire(bool shared) {
  {
    absl::MutexLock lock(&mu_);
    std::vector<std::unique_ptr<Handle>>& idle = shared ? idle_shared_ : idle_;
    if (!idle.empty()) {
      std::unique_ptr<Handle> handle = std::move(idle.back());
      idle.pop_back();
      return handle;
    }
  }
  return std::make_unique<Handle>();
}

void HttpClient::Release(std::unique_ptr<Handle> handle, bool shared) {
  absl::MutexLock lock(&mu_);
  std::vector<std::unique_ptr<Handle>>& idle = shared ? idle_shared_ : idle_;
  if (idle.size() < kMaxIdleHandles) idle.push_back(std::move(handle));
}

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  const bool shared = Shares(request);
  std::unique_ptr<Handle> handle = Acquire(shared);
  absl::StatusOr<HttpResponse> response = Perform(*handle, request, shared, nullptr);
  Release(std::move(handle), shared);
  return response;
}

absl::StatusOr<HttpResponse> HttpClient::Stream(const HttpRequest& request,
                                                const ChunkHandler& on_chunk) {
  std::unique_ptr<Handle> handle = Acquire(/*shared=*/false);
  absl::StatusOr<HttpResponse> response = Perform(*handle, request, /*shared=*/false, &on_chunk);
  // A stream ended early leaves its connection mid-response: never reuse it.
  if (response.ok()) Release(std::move(handle), /*shared=*/false);
  return response;
}

absl::StatusOr<HttpResponse> HttpClient::Perform(Handle& handle, const HttpRequest& request,
                                                 bool shared, const ChunkHandler* on_chunk) {
  if (handle.curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  CURL* curl = handle.curl;
  // Clears the options of the previous call and keeps its open connection.
  curl_easy_reset(curl);

  HttpResponse response;
  Transfer transfer{.curl = curl,
                    .response = &response,
                    .on_chunk = on_chunk,
                    .cancel = request.cancel,
                    .max_body = request.max_body};
  char error[CURL_ERROR_SIZE] = "";
  HeaderList headers;
  for (const auto& [name, value] : request.headers) headers.Add(absl::StrCat(name, ": ", value));
  // curl would otherwise wait for a 100 Continue before sending large bodies.
  headers.Add("Expect:");

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  // HTTP and HTTPS only, whatever a URL from a kubeconfig, a registry's challenge or its
  // redirect names: curl would read file://, and speak to ftp://, gopher:// or dict:// hosts.
  // Redirects are never followed here; the callers decide where a Location may lead.
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  // Calls through the multiplexer ask for HTTP/2 over TLS and wait for a shared connection to
  // say whether it multiplexes rather than open one more. Others, and every stream, stay on
  // HTTP/1.1 even where the server offers HTTP/2: on a connection of its own, HTTP/2's
  // per-connection state (curl's stream buffers and the nghttp2 session, about 90 KB) buys
  // nothing, and it cost the operator 2 MB over its 20-odd connections (docs/benchmarks.md).
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION,
                   static_cast<long>(shared ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1));
  if (shared) {
    curl_easy_setopt(curl, CURLOPT_PIPEWAIT, 1L);
    // curl 7.88 neither pings an HTTP/2 connection nor drops one whose call timed out, so a
    // connection the server or a load balancer left half-open would take every later call down
    // with it until the kernel gave up retransmitting (about 15 minutes). The kernel ends it
    // when what it sent stays unacknowledged this long; its calls fail and curl reconnects.
    curl_easy_setopt(curl, CURLOPT_SOCKOPTFUNCTION, OnSharedSocket);
  }
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // No SIGALRM-based DNS timeouts in threads.
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(
      curl, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(
          std::min<std::chrono::milliseconds>(request.timeout, kConnectTimeout).count()));
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  if (request.cancel != nullptr) {
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  }

  curl_blob ca{}, cert{}, key{};
  if (!tls_.ca_pem.empty()) {
    ca = {const_cast<char*>(tls_.ca_pem.data()), tls_.ca_pem.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
  }
  if (!tls_.client_cert_pem.empty()) {
    cert = {const_cast<char*>(tls_.client_cert_pem.data()), tls_.client_cert_pem.size(),
            CURL_BLOB_NOCOPY};
    key = {const_cast<char*>(tls_.client_key_pem.data()), tls_.client_key_pem.size(),
           CURL_BLOB_NOCOPY};
    curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (tls_.insecure_skip_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }

  const CURLcode code = shared ? multiplexer_->Perform(curl) : curl_easy_perform(curl);
  if (transfer.body_too_large) {
    return absl::ResourceExhaustedError(absl::StrCat(request.method, " ", WithoutQuery(request.url),
                                                     ": the reply's body is over ",
                                                     request.max_body, " bytes"));
  }
  if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && transfer.stopped_by_handler)) {
    return CurlError(code, error, request);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace gpuop::common
