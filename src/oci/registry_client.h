#pragma once

// The OCI distribution API, pull side, against one registry: manifests by tag or digest and
// blobs streamed to a file with their digest checked. Answers a 401 the way registries ask:
// Basic with the pull secret's credentials, or the Bearer token flow (the realm's token for
// "repository:<repo>:pull", fetched with those credentials or anonymously). Retries transport
// failures, 429 and 5xx with backoff; follows redirects (blob storage), dropping the
// registry's Authorization on another host.
//
//   RegistryClient registry("nvcr.io", {.credentials = creds});
//   absl::StatusOr<FetchedManifest> m = registry.GetManifest("nvidia/kata", "v1");

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "common/http_client.h"
#include "oci/credentials.h"
#include "oci/manifest.h"

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
};

struct FetchedManifest {
  std::string media_type;
  std::string digest;  // Of the bytes received: what the manifest is pinned by.
  std::string body;
};

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
      const std::string& repository, const std::string& url,
      const std::vector<std::pair<std::string, std::string>>& headers,
      std::chrono::milliseconds timeout, const ChunkSink* sink);
  // `call` with retries on what is worth retrying.
  absl::StatusOr<common::HttpResponse> WithRetries(
      const std::function<absl::StatusOr<common::HttpResponse>()>& call);
  // The Authorization header for `repository` after a 401 carrying `challenge`.
  absl::StatusOr<std::string> Authorize(const std::string& repository,
                                        const std::string& challenge);
  std::string BaseUrl() const;

  const std::string registry_;
  const RegistryOptions options_;
  common::HttpClient http_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> authorization_ ABSL_GUARDED_BY(mu_);  // repository -> header
  int64_t retries_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace gpuop::oci
