#pragma once

// Hears the kernel announce PCI devices coming, going and changing driver (netlink uevents,
// the stream udev listens to), so an agent reacts to a hot-added GPU at once instead of
// polling sysfs. Uevents reach only the host's network namespace: in a pod this needs
// hostNetwork; where the socket cannot be opened the agent falls back to periodic rescans.

#include <chrono>

#include "absl/status/statusor.h"

#include "common/stop_signal.h"
#include "common/unique_fd.h"

namespace gpuop::host {

class UeventMonitor {
 public:
  // Subscribes to kernel uevents. Fails (PermissionDenied, ...) where netlink is not allowed.
  static absl::StatusOr<UeventMonitor> Open();

  // Waits until a PCI add/remove/bind/unbind/change uevent arrives (true), or `timeout` passes
  // or `stop` fires (false). Other subsystems' events are read and ignored.
  bool WaitForPciEvent(const common::StopSignal& stop, std::chrono::milliseconds timeout);

 private:
  explicit UeventMonitor(common::UniqueFd socket) : socket_(std::move(socket)) {}
  common::UniqueFd socket_;
};

}  // namespace gpuop::host
