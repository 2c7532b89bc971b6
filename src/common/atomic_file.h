#pragma once

// Writes a file so that readers see the old contents or the new, never a torn mix, and a crash
// leaves no half-written file behind: write a temp file in the same folder, fsync it, rename it
// over the target, fsync the folder.

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace gpuop::common {

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents,
                                 int mode = 0644);

// The same, creating the folders above `path` first (WriteFileAtomically wants them there: a
// missing folder is usually a wrong path, and then an error is what the caller needs).
absl::Status WriteFileAtomicallyCreatingFolders(const std::string& path, std::string_view contents,
                                                int mode = 0644);

}  // namespace gpuop::common
