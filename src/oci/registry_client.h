#pragma once

// The OCI distribution API, pull side, against one registry: manifests by tag or digest and
// blobs streamed to a file with their digest checked. Answers a 401 the way registries ask:
// Basic with the pull secret's credentials, or the Bearer token flow (the realm's token for
// "repository:<repo>:pull", fetched with those credentials or anonymously). Retries transport
// failures, 429 and 5xx with backoff; follows redirects only where redirect_policy.h allows
// (blob storage), dropping the registry's Authorization on another host. No byte of a reply
// body goes into an error (only the distribution spec's error code).
//
//   RegistryClient registry("nvcr.io", {.credentials = creds});
//   absl::StatusOr<FetchedManifest> m = registry.GetManifest("nvidia/kata", "v1");

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "common/http_client.h"
#include "common/stop_signal.h"
#include "oci/credentials.h"
#include "oci/manifest.h"
#include "oci/redirect_policy.h"

namespace gpuop::oci {

struct RegistryOptions {
  std::string ca_pem;       // Trusted CAs besides none: empty = the system's trust store.
  bool plain_http = false;  // http://, for a loopback registry.
  std::optional<Credentials> credentials;
  int attempts = 5;  // Per call, the first included.
  std::chrono::milliseconds first_backoff = std::chrono::milliseconds(250);
  std::chrono::milliseconds max_backoff = std::chrono::seconds(8);
  std::chrono::milliseconds timeout = std::chrono::seconds(30);  // A manifest or a token.
  std::chrono::milliseconds blob_timeout = std::chrono::hours(1);
  // When set, its Stop() ends a call at once: a transfer within about a second (Cancelled), a
  // backoff wait immediately. The agent's SIGTERM, so that a pull never outlives its grace.
  const common::StopSignal* stop = nullptr;
};

// The most bytes of a reply kept in memory: the distribution spec's manifest limit, and what a
// token or an error reply could need. Past them the call fails.
inline constexpr size_t kMaxManifestBytes = 4 << 20;
inline constexpr size_t kMaxSmallReplyBytes = 1 << 20;

struct FetchedManifest {
  std::string media_type;
  std::string digest;  // Of the bytes received: what the manifest is pinned by.
  std::string body;
};

// What may be said of a registry's error reply: the code of the distribution spec's error body
// ("MANIFEST_UNKNOWN", "TOOMANYREQUESTS"), which is from a fixed vocabulary, or "no error code".
// Nothing else of a body ever goes into a message: these messages reach Node Events, and a
// reply may come from wherever the registry redirected to.
std::string RegistryErrorCode(std::string_view body);

// Bytes written so far, and the blob's size.
using BlobProgress = std::function<void(int64_t written, int64_t total)>;

class RegistryClient {
 public:
  RegistryClient(std::string registry, RegistryOptions options);

  // `reference` is a tag or a digest; a digest reference must match what arrives.
  absl::StatusOr<FetchedManifest> GetManifest(const std::string& repository,
                                              const std::string& reference);
  // Writes the blob to `path`: streamed into `<path>.partial` (each retry starts it over),
  // fsynced, and renamed to `path` only once its size and digest match. A mismatch is DataLoss,
  // the partial file is removed and `path` is left as it was.
  absl::Status DownloadBlob(const std::string& repository, const Descriptor& blob,
                            const std::string& path, const BlobProgress& progress = nullptr);

  // Calls that were retried, for the log and the tests.
  int64_t Retries() const;

 private:
  using ChunkSink = std::function<absl::Status(std::string_view)>;
  // One GET with auth and redirects; `sink` streams a 2xx body instead of collecting it.
  absl::StatusOr<common::HttpResponse> Get(
      const std::string& repository, const std::string& url, RedirectOf what,
      const std::vector<std::pair<std::string, std::string>>& headers,
      std::chrono::milliseconds timeout, const ChunkSink* sink);
  // `call` with retries on what is worth retrying.
  absl::StatusOr<common::HttpResponse> WithRetries(
      const std::function<absl::StatusOr<common::HttpResponse>()>& call);
  // The Authorization header for `repository` after a 401 carrying `challenge`.
  absl::StatusOr<std::string> Authorize(const std::string& repository,
                                        const std::string& challenge);
  // OK when a Bearer challenge's realm may be asked for a token (and remembered as a host the
  // registry's redirects may lead to).
  absl::Status CheckRealm(const std::string& realm);
  std::string BaseUrl() const;
  common::HttpRequest Request(const std::string& url,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              std::chrono::milliseconds timeout, size_t max_body) const;

  const std::string registry_;
  const RegistryOptions options_;
  common::HttpClient http_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> authorization_ ABSL_GUARDED_BY(mu_);  // repository -> header
  int64_t retries_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> realm_hosts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpuop::oci
