#pragma once

// Makes the node's containerd load a changed config: `systemctl restart <unit>` on the host
// (containerd reloads its config only when it starts), then waits until its socket takes
// connections again. "none" leaves the restart to the admin, for nodes whose containerd is not
// a systemd unit.

#include <chrono>
#include <string>

#include "absl/status/status.h"

#include "host/host_root.h"

namespace gpuop::containerd {

struct RestartOptions {
  std::string mode = "systemd";  // "systemd" or "none".
  std::string unit = "containerd.service";
  std::string socket = "/run/containerd/containerd.sock";  // Host path.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
};

absl::Status RestartContainerd(const host::HostRoot& root, const RestartOptions& options);

// OK once a connection to the unix socket at `path` succeeds, within `timeout`.
absl::Status WaitForSocket(const std::string& path, std::chrono::milliseconds timeout);

}  // namespace gpuop::containerd
