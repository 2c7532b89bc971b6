#pragma once

// The wire format of a Kubernetes watch: a stream of JSON objects, one per line,
// {"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": {...}}. LineSplitter cuts
// the byte stream into lines; ParseWatchEvent reads one line strictly.

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

namespace gpuop::kube {

// object.metadata.resourceVersion, or empty.
std::string ResourceVersionOf(const nlohmann::json& object);

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark };
  Type type = Type::kAdded;
  nlohmann::json object;

  std::string ResourceVersion() const { return ResourceVersionOf(object); }
};

// One line of a watch. An ERROR event comes back as the ApiError its Status carries (IsGone for
// an expired resourceVersion); a malformed line is DataLoss naming what is wrong.
absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view line);

// Accumulates chunks of a stream and hands out each complete line (without the newline).
class LineSplitter {
 public:
  // Calls on_line for every line completed by `chunk`; stops and returns false as soon as
  // on_line returns false.
  bool Feed(std::string_view chunk, const std::function<bool(std::string_view line)>& on_line);
  // Bytes of an unfinished line held back.
  size_t Pending() const { return partial_.size(); }

 private:
  std::string partial_;
};

}  // namespace gpuop::kube
