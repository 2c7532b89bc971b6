#pragma once

// The wire format of a Kubernetes watch: a stream of JSON objects, one per line,
// {"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": {...}}. LineSplitter cuts
// the byte stream into lines; ParseWatchEvent reads one line strictly, with simdjson.

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

#include "kube/json_element.h"

namespace gpuop::kube {

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark };
  Type type = Type::kAdded;
  // Lives in the parser that read the line, until that parser's next parse.
  JsonElement object;

  std::string ResourceVersion() const { return ResourceVersionOf(object); }
};

// One line of a watch, parsed by `parser`. An ERROR event comes back as the ApiError its Status
// carries (IsGone for an expired resourceVersion); a malformed line is DataLoss naming what is
// wrong.
absl::StatusOr<WatchEvent> ParseWatchEvent(simdjson::dom::parser& parser, std::string_view line);

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
