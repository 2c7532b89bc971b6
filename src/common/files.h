#pragma once

// Whole-file reads, with errors that name the path.

#include <string>

#include "absl/status/statusor.h"

namespace gpuop::common {

// The file's bytes. NotFound when it does not exist, the errno's code otherwise; the message
// names the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace gpuop::common
