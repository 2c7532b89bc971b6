// Any bytes as containerd's main config (the user's file, read from the host): adding gpuop's
// import must give an error or a file that parses, imports the drop-in and, once the import is
// taken out again, reads exactly as the original did. Never a crash or a hang.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

#include "containerd/config_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string drop_in = "/etc/containerd/conf.d/99-gpuop-kata.toml";
  absl::StatusOr<gpuop::containerd::MainConfig> original = gpuop::containerd::ParseMainConfig(text);
  absl::StatusOr<std::string> edited = gpuop::containerd::WithImport(text, drop_in);
  if (!edited.ok()) return 0;
  if (!original.ok()) __builtin_trap();  // An edit of a file that does not parse.
  absl::StatusOr<gpuop::containerd::MainConfig> added = gpuop::containerd::ParseMainConfig(*edited);
  if (!added.ok() || !gpuop::containerd::ImportsCover(added->imports, drop_in)) __builtin_trap();
  if (*edited == text) return 0;
  absl::StatusOr<std::string> removed = gpuop::containerd::WithoutImport(*edited, drop_in);
  if (!removed.ok()) __builtin_trap();
  absl::StatusOr<gpuop::containerd::MainConfig> back = gpuop::containerd::ParseMainConfig(*removed);
  if (!back.ok() || back->document != original->document) __builtin_trap();
  return 0;
}
