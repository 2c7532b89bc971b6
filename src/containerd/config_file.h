#pragma once

// containerd's main config file as text we may touch in exactly one place: the top-level
// `imports` array. Everything else of the user's file stays byte for byte; every edit is parsed
// back and compared, so an edit that would change anything else is refused instead of written.
//
//   absl::StatusOr<MainConfig> config = ParseMainConfig(text);
//   absl::StatusOr<std::string> edited = WithImport(text, "/etc/containerd/conf.d/gpuop.toml");

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "toml++/toml.h"

namespace gpuop::containerd {

struct MainConfig {
  // The `version` key: 1 when absent (containerd's reading), 2 or 3.
  int schema = 1;
  std::vector<std::string> imports;
  toml::table document;
};

// The parsed file; a TOML error names the line and column. An empty text is an empty config.
absl::StatusOr<MainConfig> ParseMainConfig(const std::string& text);

// True when `imports` already loads `path`, literally or through a glob entry ("conf.d/*.toml").
bool ImportsCover(const std::vector<std::string>& imports, const std::string& path);

// `text` with `path` appended to the top-level `imports` (added, with a marker comment, when the
// file has none). Unchanged when an entry already covers `path`.
absl::StatusOr<std::string> WithImport(const std::string& text, const std::string& path);

// `text` with `path` taken out of `imports`; the whole line goes when we added it and nothing
// else is left in it. Unchanged when `path` is not there.
absl::StatusOr<std::string> WithoutImport(const std::string& text, const std::string& path);

}  // namespace gpuop::containerd
