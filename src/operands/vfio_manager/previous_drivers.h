#pragma once

// The drivers the VFIO manager took devices from, kept in a file under /run so that
// --unbind-on-exit can give them back even after the agent restarted (a pod restart or a
// rollout must not turn "restore on exit" into "forget"). /run is tmpfs: a reboot forgets the
// file along with the bindings it describes.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "host/vfio_binder.h"

namespace gpuop::operands {

// The kBound bindings in the file. A missing file is an empty list; a malformed one is
// InvalidArgument (the caller logs it and starts afresh: the file is only a memory aid).
absl::StatusOr<std::vector<host::DeviceBinding>> LoadPreviousDrivers(const std::string& path);

// Replaces the file atomically; an empty list removes it.
absl::Status SavePreviousDrivers(const std::string& path,
                                 const std::vector<host::DeviceBinding>& bindings);

}  // namespace gpuop::operands
