#include "kube/reflector.h"

#include <random>

#include "absl/strings/str_cat.h"

#include "common/clock.h"
#include "common/status_macros.h"
#include "kube/api_error.h"

namespace gpuop::kube {
namespace {

// A watch that ends cleanly this soon, having delivered nothing, counts as a failure: rewatching
// at once could spin.
constexpr auto kShortestHealthyWatch = std::chrono::seconds(1);

std::chrono::milliseconds Jittered(std::chrono::milliseconds base) {
  // Spreads reconnects of many agents over time instead of all at the same instant.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.5, 1.5);
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(base.count()) * factor(rng)));
}

}  // namespace

Reflector::Reflector(RestClient& client, Resource resource, std::string ns,
                     ListWatchOptions options, ReflectorSink& sink)
    : client_(client),
      resource_(std::move(resource)),
      ns_(std::move(ns)),
      options_(std::move(options)),
      sink_(sink) {}

std::string Reflector::LastError() const {
  absl::MutexLock lock(&error_mu_);
  return last_error_;
}

absl::Status Reflector::ListOnce() {
  ++lists_;
  sink_.StartReplace();
  // A parser keeps buffers sized for the largest document it has read (several times its size)
  // for its whole life: one for the list alone, so that between relists only the watch's small
  // one stays.
  simdjson::dom::parser page_parser;
  std::string continue_token;
  std::string list_version;
  do {
    GPUOP_RETURN_IF_ERROR(ListPageOnce(page_parser, continue_token, list_version));
  } while (!continue_token.empty());
  sink_.FinishReplace();
  // Only a complete list may be watched from: after a failed one, Run lists again.
  resource_version_ = std::move(list_version);
  return absl::OkStatus();
}

absl::Status Reflector::ListPageOnce(simdjson::dom::parser& parser, std::string& continue_token,
                                     std::string& list_version) {
  std::string path = resource_.Path(ns_);
  AppendQueryParam(path, "labelSelector", options_.label_selector);
  AppendQueryParam(path, "fieldSelector", options_.field_selector);
  if (options_.page_size > 0) AppendQueryParam(path, "limit", absl::StrCat(options_.page_size));
  AppendQueryParam(path, "continue", continue_token);
  GPUOP_ASSIGN_OR_RETURN(
      std::string body,
      client_.DoRaw({.path_and_query = path,
                     .accept = options_.metadata_only ? kAcceptMetadataList : "application/json"}));
  simdjson::dom::element list;
  if (const auto error = parser.parse(body).get(list); error) {
    return absl::DataLossError(
        absl::StrCat("list ", resource_.Path(ns_),
                     ": the answer is not JSON: ", simdjson::error_message(error)));
  }
  simdjson::dom::array items;
  if (list["items"].get(items) != simdjson::SUCCESS) {
    // The API sends "items": null for an empty list.
    if (!list["items"].is_null()) {
      return absl::DataLossError(absl::StrCat("list ", resource_.Path(ns_), ": no items array"));
    }
  } else {
    for (const simdjson::dom::element item : items) sink_.AddToReplace(item);
  }
  // Every page of one list is served from the same snapshot; the first page's version is where
  // the watch must start.
  if (list_version.empty()) {
    list_version = std::string(StringAt(list, {"metadata", "resourceVersion"}));
  }
  continue_token = std::string(StringAt(list, {"metadata", "continue"}));
  return absl::OkStatus();
}

absl::Status Reflector::WatchOnce(const common::StopSignal& stop, bool& made_progress) {
  ++watches_;
  std::string path = resource_.Path(ns_);
  absl::StrAppend(
      &path, "?watch=1&allowWatchBookmarks=true&timeoutSeconds=", options_.watch_timeout.count());
  AppendQueryParam(path, "resourceVersion", resource_version_);
  AppendQueryParam(path, "labelSelector", options_.label_selector);
  AppendQueryParam(path, "fieldSelector", options_.field_selector);

  LineSplitter splitter;
  absl::Status stream_error;
  const auto on_line = [&](std::string_view line) {
    absl::StatusOr<WatchEvent> event = ParseWatchEvent(watch_parser_, line);
    if (!event.ok()) {
      stream_error = event.status();
      return false;
    }
    made_progress = true;
    if (std::string version = event->ResourceVersion(); !version.empty()) {
      resource_version_ = std::move(version);
    }
    if (event->type != WatchEvent::Type::kBookmark) sink_.Apply(*event);
    return !stop.Stopped();
  };
  absl::StatusOr<common::HttpResponse> response = client_.Stream(
      {.path_and_query = path,
       .accept = options_.metadata_only ? kAcceptMetadata : "application/json",
       // The server closes the watch after watch_timeout; ours only catches a dead server.
       .timeout = options_.watch_timeout + std::chrono::seconds(30)},
      [&](std::string_view chunk) { return splitter.Feed(chunk, on_line); }, stop.Flag());
  if (!response.ok()) return response.status();
  if (response->status < 200 || response->status > 299) {
    return ApiError(response->status, response->body, "watch " + resource_.Path(ns_));
  }
  return stream_error;
}

void Reflector::Run(const common::StopSignal& stop) {
  const common::Clock& clock = common::SteadyClock::Instance();
  std::chrono::milliseconds backoff = options_.min_backoff;
  while (!stop.Stopped()) {
    absl::Status status;
    bool made_progress = false;
    const auto started = clock.Now();
    if (resource_version_.empty()) status = ListOnce();
    if (status.ok()) status = WatchOnce(stop, made_progress);
    if (stop.Stopped()) break;
    if (made_progress) backoff = options_.min_backoff;

    if (status.ok()) {
      // The server ended the watch as it does every few minutes: watch again from where we are.
      if (made_progress || clock.Now() - started >= kShortestHealthyWatch) {
        continue;
      }
    } else {
      absl::MutexLock lock(&error_mu_);
      last_error_ = std::string(status.message());
    }
    if (IsGone(status)) {
      // Our resourceVersion is older than etcd keeps: only a fresh list can catch up.
      resource_version_.clear();
      continue;
    }
    if (stop.SleepFor(Jittered(backoff))) break;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace gpuop::kube
