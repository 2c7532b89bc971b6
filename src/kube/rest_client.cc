#include "kube/rest_client.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include "common/files.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "kube/api_error.h"
#include "kube/json_fields.h"

namespace gpuop::kube {
namespace {

// JSON for the API server. Text in an object can come from a host or a remote party (a file's
// bytes, a registry's reply quoted in an Event); nlohmann's dump() throws on invalid UTF-8,
// which would end the agent, so such bytes go as U+FFFD instead.
std::string ToWire(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// client-go re-reads a token file once a minute; kubelet rotates projected tokens well before
// they expire, so that is soon enough.
constexpr auto kTokenRereadPeriod = std::chrono::minutes(1);
// client-go's default for answers that say Retry-After.
constexpr int kMaxRetries = 10;
constexpr auto kMaxRetryWait = std::chrono::seconds(30);

// Percent-encodes a query value: RFC 3986 unreserved characters pass.
std::string QueryEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string escaped;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      escaped += static_cast<char>(c);
    } else {
      escaped += '%';
      escaped += kHex[c >> 4];
      escaped += kHex[c & 15];
    }
  }
  return escaped;
}

std::string NameOf(const json& object) {
  return StringField(ObjectField(object, "metadata"), "name");
}

// Seconds of a Retry-After header (the API server sends whole seconds), or nullopt.
std::optional<std::chrono::seconds> RetryAfter(const common::HttpResponse& response) {
  if (response.status != 429 && response.status < 500) return std::nullopt;
  const std::optional<std::chrono::seconds> seconds = response.RetryAfter();
  if (!seconds.has_value()) return std::nullopt;
  return std::min<std::chrono::seconds>(*seconds, kMaxRetryWait);
}

}  // namespace

void AppendQueryParam(std::string& path, const std::string& key, const std::string& value) {
  if (value.empty()) return;
  absl::StrAppend(&path, path.find('?') == std::string::npos ? "?" : "&", key, "=",
                  QueryEscape(value));
}

absl::StatusOr<std::unique_ptr<RestClient>> ConnectToApiServer(const RestConfigSources& sources) {
  absl::StatusOr<RestConfig> config = LoadRestConfig(sources);
  if (!config.ok()) return config.status();
  return RestClient::Create(*std::move(config));
}

absl::StatusOr<std::unique_ptr<RestClient>> RestClient::Create(RestConfig config,
                                                               common::Clock& clock) {
  if (config.server.empty()) return absl::InvalidArgumentError("RestClient: no server");
  return std::unique_ptr<RestClient>(new RestClient(std::move(config), clock));
}

RestClient::RestClient(RestConfig config, common::Clock& clock)
    : config_(std::move(config)), clock_(clock), http_(config_.tls, {.share_connections = true}) {}

absl::StatusOr<std::string> RestClient::BearerToken() {
  if (config_.token_file.empty()) return config_.bearer_token;
  absl::MutexLock lock(&token_mu_);
  const auto now = clock_.Now();
  if (cached_token_.empty() || now - token_read_at_ >= kTokenRereadPeriod) {
    absl::StatusOr<std::string> token = common::ReadFile(config_.token_file);
    if (!token.ok()) {
      // Keep using the token we have while the file is being swapped.
      if (!cached_token_.empty()) return cached_token_;
      return absl::UnauthenticatedError(absl::StrCat("token: ", token.status().message()));
    }
    cached_token_ = std::string(absl::StripAsciiWhitespace(*token));
    token_read_at_ = now;
  }
  return cached_token_;
}

absl::StatusOr<common::HttpRequest> RestClient::BuildRequest(const Call& call) {
  common::HttpRequest request{.method = call.method,
                              .url = config_.server + call.path_and_query,
                              .body = call.body,
                              .timeout = call.timeout};
  request.headers.emplace_back("Accept", call.accept);
  request.headers.emplace_back("User-Agent", "gpuop/" + std::string(common::Version()));
  if (!call.content_type.empty()) request.headers.emplace_back("Content-Type", call.content_type);
  GPUOP_ASSIGN_OR_RETURN(std::string token, BearerToken());
  if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
  return request;
}

absl::StatusOr<std::string> RestClient::DoRaw(const Call& call) {
  GPUOP_ASSIGN_OR_RETURN(common::HttpRequest request, BuildRequest(call));
  for (int attempt = 0;; ++attempt) {
    GPUOP_ASSIGN_OR_RETURN(common::HttpResponse response, http_.Send(request));
    if (response.status >= 200 && response.status <= 299) return std::move(response.body);
    const std::optional<std::chrono::seconds> wait = RetryAfter(response);
    if (!wait.has_value() || attempt >= kMaxRetries) {
      return ApiError(response.status, response.body,
                      absl::StrCat(call.method, " ", call.path_and_query));
    }
    clock_.Sleep(*wait);
  }
}

absl::StatusOr<json> RestClient::Do(const Call& call) {
  GPUOP_ASSIGN_OR_RETURN(std::string body, DoRaw(call));
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::DataLossError(
        absl::StrCat(call.method, " ", call.path_and_query, ": the server's answer is not JSON"));
  }
  return parsed;
}

absl::StatusOr<common::HttpResponse> RestClient::Stream(
    const Call& call, const common::HttpClient::ChunkHandler& on_chunk,
    const std::atomic<bool>* cancel) {
  GPUOP_ASSIGN_OR_RETURN(common::HttpRequest request, BuildRequest(call));
  request.cancel = cancel;
  return http_.Stream(request, on_chunk);
}

absl::StatusOr<json> RestClient::Get(const Resource& resource, const std::string& ns,
                                     const std::string& name) {
  return Do({.path_and_query = resource.Path(ns, name)});
}

absl::StatusOr<ListPage> RestClient::List(const Resource& resource, const std::string& ns,
                                          const ListOptions& options) {
  std::string path = resource.Path(ns);
  AppendQueryParam(path, "labelSelector", options.label_selector);
  AppendQueryParam(path, "fieldSelector", options.field_selector);
  if (options.limit > 0) AppendQueryParam(path, "limit", absl::StrCat(options.limit));
  AppendQueryParam(path, "continue", options.continue_token);
  AppendQueryParam(path, "resourceVersion", options.resource_version);
  GPUOP_ASSIGN_OR_RETURN(
      json list, Do({.path_and_query = path,
                     .accept = options.metadata_only ? kAcceptMetadataList : "application/json"}));
  ListPage page;
  if (list.is_object() && list.contains("items") && list["items"].is_array()) {
    page.items = std::move(list["items"]);
  }
  const json& metadata = ObjectField(list, "metadata");
  page.resource_version = StringField(metadata, "resourceVersion");
  page.continue_token = StringField(metadata, "continue");
  return page;
}

absl::StatusOr<ListPage> RestClient::ListAll(const Resource& resource, const std::string& ns,
                                             ListOptions options) {
  ListPage all;
  do {
    GPUOP_ASSIGN_OR_RETURN(ListPage page, List(resource, ns, options));
    for (json& item : page.items) all.items.push_back(std::move(item));
    // Every page of one list is served from the same snapshot; the first page's version is
    // where a watch must start.
    if (all.resource_version.empty()) all.resource_version = page.resource_version;
    options.continue_token = page.continue_token;
  } while (!options.continue_token.empty());
  return all;
}

absl::StatusOr<json> RestClient::Create(const Resource& resource, const std::string& ns,
                                        const json& object) {
  return Do({.method = "POST",
             .path_and_query = resource.Path(ns),
             .content_type = "application/json",
             .body = ToWire(object)});
}

absl::StatusOr<json> RestClient::Update(const Resource& resource, const std::string& ns,
                                        const json& object) {
  return Do({.method = "PUT",
             .path_and_query = resource.Path(ns, NameOf(object)),
             .content_type = "application/json",
             .body = ToWire(object)});
}

absl::StatusOr<json> RestClient::UpdateStatus(const Resource& resource, const std::string& ns,
                                              const json& object) {
  return Do({.method = "PUT",
             .path_and_query = resource.Path(ns, NameOf(object), "status"),
             .content_type = "application/json",
             .body = ToWire(object)});
}

absl::Status RestClient::Delete(const Resource& resource, const std::string& ns,
                                const std::string& name, const DeleteOptions& options) {
  json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  if (!options.precondition_uid.empty()) body["preconditions"]["uid"] = options.precondition_uid;
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  return Do({.method = "DELETE",
             .path_and_query = resource.Path(ns, name),
             .content_type = "application/json",
             .body = ToWire(body)})
      .status();
}

absl::StatusOr<json> RestClient::MergePatch(const Resource& resource, const std::string& ns,
                                            const std::string& name, const json& patch,
                                            const std::string& subresource) {
  return Do({.method = "PATCH",
             .path_and_query = resource.Path(ns, name, subresource),
             .content_type = "application/merge-patch+json",
             .body = ToWire(patch)});
}

absl::Status RestClient::MergePatchWithoutReply(const Resource& resource, const std::string& ns,
                                                const std::string& name, const json& patch) {
  return DoRaw({.method = "PATCH",
                .path_and_query = resource.Path(ns, name),
                .content_type = "application/merge-patch+json",
                .accept = kAcceptMetadata,
                .body = ToWire(patch)})
      .status();
}

absl::StatusOr<json> RestClient::Apply(const Resource& resource, const std::string& ns,
                                       const json& object, const ApplyOptions& options) {
  const std::string name = NameOf(object);
  if (name.empty()) return absl::InvalidArgumentError("apply: the object has no metadata.name");
  std::string path = resource.Path(ns, name, options.subresource);
  AppendQueryParam(path, "fieldManager", options.field_manager);
  if (options.force) AppendQueryParam(path, "force", "true");
  // JSON is YAML, and the apply-patch content type takes either.
  return Do({.method = "PATCH",
             .path_and_query = path,
             .content_type = "application/apply-patch+yaml",
             .body = ToWire(object)});
}

}  // namespace gpuop::kube
