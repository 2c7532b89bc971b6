#pragma once

// Typed calls on the Kubernetes REST API: get, list (selectors, paging), create, update,
// update status, delete, JSON merge patch and server-side apply, on any Resource. Objects are
// nlohmann::json. Errors are Status values from ApiError (see api_error.h) or from the
// transport. 429 and 5xx answers that carry Retry-After are retried, as client-go does.
// Thread-safe.
//
//   GPUOP_ASSIGN_OR_RETURN(auto client, RestClient::Create(config));
//   GPUOP_ASSIGN_OR_RETURN(json node, client->Get(resources::kNodes, "", "gpu-node-1"));

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/http_client.h"
#include "kube/resource.h"
#include "kube/rest_config.h"

namespace gpuop::kube {

using json = nlohmann::json;

// Appends "?key=value" or "&key=value" to `path`, the value percent-encoded; nothing when the
// value is empty (the API treats an empty parameter as absent anyway).
void AppendQueryParam(std::string& path, const std::string& key, const std::string& value);

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;           // Page size; 0 = everything in one answer.
  std::string continue_token;  // From the previous page.
  std::string resource_version;
  // Ask for PartialObjectMetadata: names, labels, annotations, versions; no spec or status.
  bool metadata_only = false;
};

// The Accept headers of the metadata-only API.
inline constexpr char kAcceptMetadata[] =
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
inline constexpr char kAcceptMetadataList[] =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

struct ListPage {
  json items = json::array();
  std::string resource_version;  // Of the list: where a watch starts.
  std::string continue_token;    // Empty on the last page.
};

struct ApplyOptions {
  std::string field_manager = "gpuop";
  bool force = false;  // Take fields another manager owns instead of failing with 409.
  std::string subresource;
};

struct DeleteOptions {
  std::string propagation_policy;  // "Background", "Foreground", "Orphan", or server default.
  std::string precondition_uid;    // Delete only this incarnation of the name.
  // Pods: how long the kubelet has to stop the containers; 0 removes the object at once.
  std::optional<int64_t> grace_period_seconds;
};

class RestClient;

// LoadRestConfig(sources), then RestClient::Create: what a process that talks to its one API
// server starts with. The error is the first step's.
absl::StatusOr<std::unique_ptr<RestClient>> ConnectToApiServer(const RestConfigSources& sources);

class RestClient {
 public:
  // `clock` times Retry-After waits and token-file re-reads; tests pass a FakeClock.
  static absl::StatusOr<std::unique_ptr<RestClient>> Create(
      RestConfig config, common::Clock& clock = common::SteadyClock::Instance());

  absl::StatusOr<json> Get(const Resource& resource, const std::string& ns,
                           const std::string& name);
  absl::StatusOr<ListPage> List(const Resource& resource, const std::string& ns,
                                const ListOptions& options = {});
  // Every page of a list, joined; `options.limit` sets the page size.
  absl::StatusOr<ListPage> ListAll(const Resource& resource, const std::string& ns,
                                   ListOptions options = {});
  absl::StatusOr<json> Create(const Resource& resource, const std::string& ns, const json& object);
  // PUT: fails with a Conflict when object.metadata.resourceVersion is not the current one.
  absl::StatusOr<json> Update(const Resource& resource, const std::string& ns, const json& object);
  absl::StatusOr<json> UpdateStatus(const Resource& resource, const std::string& ns,
                                    const json& object);
  absl::Status Delete(const Resource& resource, const std::string& ns, const std::string& name,
                      const DeleteOptions& options = {});
  absl::StatusOr<json> MergePatch(const Resource& resource, const std::string& ns,
                                  const std::string& name, const json& patch,
                                  const std::string& subresource = "");
  // A merge patch whose answer is not needed: the server is asked for the object's metadata only
  // (PartialObjectMetadata), and that is not parsed. For writes at fleet scale: a Node's status
  // is most of its 15-20 KB, and encoding, sending and parsing it for every label patch cost
  // the apiserver and us more than the write itself.
  absl::Status MergePatchWithoutReply(const Resource& resource, const std::string& ns,
                                      const std::string& name, const json& patch);
  // Server-side apply of `object` (which names itself) as options.field_manager.
  absl::StatusOr<json> Apply(const Resource& resource, const std::string& ns, const json& object,
                             const ApplyOptions& options = {});

  // The lowest level, for calls not covered above (watches use Stream on the same transport).
  struct Call {
    std::string method = "GET";
    std::string path_and_query;  // "/api/v1/nodes?limit=5"
    std::string content_type;
    std::string accept = "application/json";
    std::string body;
    std::chrono::milliseconds timeout = std::chrono::seconds(30);
  };
  // Sends `call` with auth headers, retrying 429/5xx answers that carry Retry-After; returns
  // the parsed body of a 2xx answer, an ApiError otherwise.
  absl::StatusOr<json> Do(const Call& call);
  // As Do, but hands back the 2xx body unparsed (for the list/watch path, which parses with
  // simdjson).
  absl::StatusOr<std::string> DoRaw(const Call& call);
  // Streams a long response (a watch) to `on_chunk`; see common::HttpClient::Stream.
  absl::StatusOr<common::HttpResponse> Stream(const Call& call,
                                              const common::HttpClient::ChunkHandler& on_chunk,
                                              const std::atomic<bool>* cancel);

  const RestConfig& Config() const { return config_; }

 private:
  RestClient(RestConfig config, common::Clock& clock);
  absl::StatusOr<std::string> BearerToken();
  absl::StatusOr<common::HttpRequest> BuildRequest(const Call& call);

  const RestConfig config_;
  common::Clock& clock_;
  common::HttpClient http_;
  absl::Mutex token_mu_;
  std::string cached_token_ ABSL_GUARDED_BY(token_mu_);
  common::Clock::TimePoint token_read_at_ ABSL_GUARDED_BY(token_mu_);
};

}  // namespace gpuop::kube
