#include "containerd/containerd_version.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace gpuop::containerd {

absl::StatusOr<ContainerdVersion> ParseContainerdRelease(const std::string& release) {
  std::string version = release;
  if (!version.empty() && version.front() == 'v') version.erase(0, 1);
  const std::vector<std::string> parts = absl::StrSplit(version, absl::ByAnyChar(".~-+"));
  ContainerdVersion parsed;
  if (parts.size() >= 2 && absl::SimpleAtoi(parts[0], &parsed.major) &&
      absl::SimpleAtoi(parts[1], &parsed.minor) && parsed.major >= 1) {
    return parsed;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("\"", release.substr(0, 100), "\" is not a containerd release (1.7, 2.1.4)"));
}

absl::StatusOr<ContainerdVersion> ParseContainerdVersion(const std::string& output) {
  const std::vector<std::string> words =
      absl::StrSplit(output, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
  if (words.size() >= 3 && words[0] == "containerd") {
    if (absl::StatusOr<ContainerdVersion> parsed = ParseContainerdRelease(words[2]); parsed.ok()) {
      return parsed;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("cannot read a containerd version from \"", output.substr(0, 200),
                   "\" (expected `containerd <source> <version> ...`)"));
}

}  // namespace gpuop::containerd
