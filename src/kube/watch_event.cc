#include "kube/watch_event.h"

#include "absl/strings/str_cat.h"

#include "kube/api_error.h"

namespace gpuop::kube {

namespace {

std::string Excerpt(std::string_view line) { return std::string(line.substr(0, 120)); }

}  // namespace

absl::StatusOr<WatchEvent> ParseWatchEvent(simdjson::dom::parser& parser, std::string_view line) {
  simdjson::dom::element parsed;
  if (const auto error = parser.parse(line.data(), line.size()).get(parsed); error) {
    return absl::DataLossError(absl::StrCat("watch: a line is not JSON (",
                                            simdjson::error_message(error), "): ", Excerpt(line)));
  }
  std::string_view type;
  WatchEvent event;
  if (parsed["type"].get(type) != simdjson::SUCCESS ||
      parsed["object"].get(event.object) != simdjson::SUCCESS || !event.object.is_object()) {
    return absl::DataLossError(
        absl::StrCat("watch: an event lacks type or object: ", Excerpt(line)));
  }
  if (type == "ADDED") {
    event.type = WatchEvent::Type::kAdded;
  } else if (type == "MODIFIED") {
    event.type = WatchEvent::Type::kModified;
  } else if (type == "DELETED") {
    event.type = WatchEvent::Type::kDeleted;
  } else if (type == "BOOKMARK") {
    event.type = WatchEvent::Type::kBookmark;
  } else if (type == "ERROR") {
    int64_t code = 0;
    if (event.object["code"].get(code) != simdjson::SUCCESS) code = 500;
    return ApiError(static_cast<long>(code), simdjson::minify(event.object), "watch");
  } else {
    return absl::DataLossError(
        absl::StrCat("watch: unknown event type \"", std::string(type), "\""));
  }
  return event;
}

bool LineSplitter::Feed(std::string_view chunk,
                        const std::function<bool(std::string_view line)>& on_line) {
  size_t start = 0;
  while (true) {
    const size_t newline = chunk.find('\n', start);
    if (newline == std::string_view::npos) break;
    std::string_view piece = chunk.substr(start, newline - start);
    start = newline + 1;
    bool keep_going;
    if (partial_.empty()) {
      keep_going = piece.empty() || on_line(piece);
    } else {
      partial_.append(piece);
      std::string line = std::move(partial_);
      partial_.clear();
      keep_going = on_line(line);
    }
    if (!keep_going) return false;
  }
  partial_.append(chunk.substr(start));
  return true;
}

}  // namespace gpuop::kube
