// Any bytes as a watch stream: split into lines as the reflector splits them, at a point the
// input chooses, and each line parsed and read as the informer reads it. Nothing may crash; an
// event that parses must have an object whose key and version can be read.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/json_element.h"
#include "kube/label_set.h"
#include "kube/watch_event.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks where the stream is cut into two chunks, as a network would.
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t cut = stream.empty() ? 0 : data[0] % (stream.size() + 1);

  simdjson::dom::parser parser;
  gpuop::kube::LineSplitter splitter;
  const auto on_line = [&](std::string_view line) {
    absl::StatusOr<gpuop::kube::WatchEvent> event = gpuop::kube::ParseWatchEvent(parser, line);
    if (event.ok()) {
      (void)gpuop::kube::ObjectKey(event->object);
      (void)event->ResourceVersion();
      gpuop::kube::JsonElement labels;
      if (gpuop::kube::ElementAt(event->object, {"metadata", "labels"}, labels)) {
        (void)gpuop::kube::LabelSet::FromElement(labels).Size();
      }
    }
    return true;
  };
  splitter.Feed(stream.substr(0, cut), on_line);
  splitter.Feed(stream.substr(cut), on_line);
  return 0;
}
