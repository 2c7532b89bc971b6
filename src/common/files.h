#pragma once

// Whole-file reads, with errors that name the path.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace gpuop::common {

// The file's bytes. NotFound when it does not exist, the errno's code otherwise; the message
// names the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// A name that stays inside its folder once joined to it: not empty, "." or "..", and without
// '/' or NUL. For names that arrive from outside (a layer's title, an install record's files).
bool IsPlainFileName(std::string_view name);

}  // namespace gpuop::common
