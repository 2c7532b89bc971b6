#pragma once

// Makes the node's containerd load a changed config (it reads it only when it starts):
// "systemd" asks the host's systemd over D-Bus to restart the first of the layout's units that
// it has loaded (containerd.service, k3s.service...) and waits for the job; "signal" sends
// SIGTERM to the process
// serving the socket (found through SO_PEERCRED, so the agent needs the host's PID namespace)
// and counts on its supervisor to start it again, as k0s's or a supervisord's does; "auto" is
// systemd where the host booted with it (/run/systemd/system), else signal; "none" leaves it to
// the admin. Every mode but none then waits until the socket takes connections again.

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"

#include "host/host_root.h"

namespace gpuop::containerd {

struct RestartOptions {
  std::string mode = "auto";  // "auto", "systemd", "signal" or "none".
  std::vector<std::string> units = {"containerd.service"};  // The first loaded one restarts.
  std::string socket = "/run/containerd/containerd.sock";   // Host path.
  // D-Bus address of systemd; empty: the host's system bus under the host root.
  std::string systemd_bus;
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
};

absl::Status RestartContainerd(const host::HostRoot& root, const RestartOptions& options);

// The pid of the process serving the unix socket at `path`.
absl::StatusOr<int> SocketPeerPid(const std::string& path);

// OK once a connection to the unix socket at `path` succeeds, within `timeout`.
absl::Status WaitForSocket(const std::string& path, std::chrono::milliseconds timeout);

}  // namespace gpuop::containerd
