#include "kube/watch_event.h"

#include "absl/strings/str_cat.h"

#include "kube/api_error.h"

namespace gpuop::kube {

std::string ResourceVersionOf(const nlohmann::json& object) {
  if (!object.is_object()) return "";
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  return metadata->value("resourceVersion", "");
}

absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view line) {
  nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    return absl::DataLossError(
        absl::StrCat("watch: a line is not a JSON object: ", std::string(line.substr(0, 120))));
  }
  const auto type = parsed.find("type");
  const auto object = parsed.find("object");
  if (type == parsed.end() || !type->is_string() || object == parsed.end() ||
      !object->is_object()) {
    return absl::DataLossError(
        absl::StrCat("watch: an event lacks type or object: ", std::string(line.substr(0, 120))));
  }
  const std::string& name = type->get_ref<const std::string&>();
  WatchEvent event;
  if (name == "ADDED") {
    event.type = WatchEvent::Type::kAdded;
  } else if (name == "MODIFIED") {
    event.type = WatchEvent::Type::kModified;
  } else if (name == "DELETED") {
    event.type = WatchEvent::Type::kDeleted;
  } else if (name == "BOOKMARK") {
    event.type = WatchEvent::Type::kBookmark;
  } else if (name == "ERROR") {
    const long code = object->value("code", 500L);
    return ApiError(code, object->dump(), "watch");
  } else {
    return absl::DataLossError(absl::StrCat("watch: unknown event type \"", name, "\""));
  }
  event.object = std::move(*object);
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
