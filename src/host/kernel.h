#pragma once

// The only ways gpuop changes a node's kernel state: writing a sysfs attribute and loading a
// module. Everything else about the node is read straight from files under the host root.
// Tests substitute a simulated kernel (tests/fixtures/simulated_kernel.h) that applies the
// kernel's documented semantics to a sysfs tree on disk; production uses HostKernel.

#include <chrono>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace gpuop::host {

class Kernel {
 public:
  virtual ~Kernel() = default;

  // Writes `value` to the attribute at `path` (absolute on the host, e.g.
  // "/sys/bus/pci/drivers_probe") in a single write(2), as sysfs requires. A failed write comes
  // back as absl::ErrnoToStatus of its errno (EBUSY -> FailedPrecondition, ENODEV ->
  // NotFound, EINVAL -> InvalidArgument, as Debian's abseil maps them). Some writes block in the
  // kernel (an unbind waits for the driver's users to let go): after `timeout` the call returns
  // DeadlineExceeded, and the write may still complete later.
  virtual absl::Status WriteAttribute(std::string_view path, std::string_view value,
                                      std::chrono::milliseconds timeout) = 0;

  // Loads a kernel module and what it depends on (modprobe semantics): `module` is a module
  // name as in modules.alias ("vfio_pci", "nvgrace_gpu_vfio_pci"). OK when already loaded.
  virtual absl::Status LoadModule(std::string_view module) = 0;
};

}  // namespace gpuop::host
