#include "containerd/containerd_restart.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <system_error>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include "common/clock.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "containerd/systemd_units.h"

namespace gpuop::containerd {

namespace {

// A connected socket to `path`, or an invalid fd.
common::UniqueFd Connect(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return common::UniqueFd();
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  common::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.Valid() ||
      ::connect(fd.Get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return common::UniqueFd();
  }
  return fd;
}

absl::Status RestartBySignal(const host::HostRoot& root, const RestartOptions& options) {
  const std::string socket = root.Path(options.socket);
  absl::StatusOr<int> pid = SocketPeerPid(socket);
  if (!pid.ok()) return pid.status();
  // The socket's peer is signalled only when it is containerd: a socket flag pointed at
  // another daemon's socket, or a socket systemd holds for activation (peer: PID 1), would
  // otherwise have gpuop stop that process.
  absl::StatusOr<std::string> comm = common::ReadFile(absl::StrCat("/proc/", *pid, "/comm"));
  const std::string name =
      comm.ok() ? std::string(absl::StripTrailingAsciiWhitespace(*comm)) : std::string();
  if (name != "containerd") {
    return absl::FailedPreconditionError(
        absl::StrCat("the process behind ", options.socket, " (pid ", *pid, ") is ",
                     name.empty() ? std::string("not readable") : absl::StrCat("\"", name, "\""),
                     ", not containerd; it was not signalled (check --containerd-socket, or use "
                     "--containerd-restart=systemd)"));
  }
  if (::kill(*pid, SIGTERM) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("SIGTERM to containerd (pid ", *pid,
                     "): ", std::error_code(errno, std::generic_category()).message(),
                     " (the agent needs hostPID to see the host's containerd)"));
  }
  // Until the old process has let go of the socket, a connection would reach it.
  const common::Clock& clock = common::SteadyClock::Instance();
  const auto until = clock.Now() + options.timeout;
  while (::kill(*pid, 0) == 0 && clock.Now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  absl::Status back = WaitForSocket(socket, options.timeout);
  if (!back.ok()) {
    return absl::DeadlineExceededError(absl::StrCat(
        back.message(), " after SIGTERM to pid ", *pid,
        ": nothing started containerd again (use --containerd-restart=systemd or none)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> SocketPeerPid(const std::string& path) {
  common::UniqueFd fd = Connect(path);
  if (!fd.Valid()) {
    return absl::UnavailableError(
        absl::StrCat("containerd's socket ", path, " takes no connections"));
  }
  ucred peer{};
  socklen_t size = sizeof peer;
  if (::getsockopt(fd.Get(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0 || peer.pid <= 0) {
    return absl::InternalError(absl::StrCat("SO_PEERCRED on ", path, " says no pid"));
  }
  return peer.pid;
}

absl::Status WaitForSocket(const std::string& path, std::chrono::milliseconds timeout) {
  const common::Clock& clock = common::SteadyClock::Instance();
  const auto until = clock.Now() + timeout;
  while (true) {
    if (Connect(path).Valid()) return absl::OkStatus();
    if (clock.Now() >= until) {
      return absl::DeadlineExceededError(
          absl::StrCat("containerd's socket ", path, " takes no connections after ",
                       std::chrono::duration_cast<std::chrono::seconds>(timeout).count(), " s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

absl::Status RestartContainerd(const host::HostRoot& root, const RestartOptions& options) {
  if (options.mode == "none") return absl::OkStatus();
  const bool systemd =
      options.mode == "systemd" || (options.mode == "auto" && root.Exists("/run/systemd/system"));
  if (options.mode == "signal" || (options.mode == "auto" && !systemd)) {
    return RestartBySignal(root, options);
  }
  if (!systemd) {
    return absl::InvalidArgumentError(absl::StrCat("containerd restart mode \"", options.mode,
                                                   "\" is not auto, systemd, signal or none"));
  }
  if (options.units.empty()) {
    return absl::FailedPreconditionError(
        "no systemd unit runs this distribution's containerd (k0s restarts its own): use "
        "--containerd-restart=none or auto");
  }
  // From a pod the host's systemd is reached through the host's /run, without its systemctl.
  absl::StatusOr<std::unique_ptr<SystemdUnits>> manager = SystemdUnits::Connect(
      options.systemd_bus.empty() ? SystemBusAddress(root.Root()) : options.systemd_bus);
  if (!manager.ok()) return manager.status();
  absl::StatusOr<std::string> unit = (*manager)->FirstLoaded(options.units);
  if (!unit.ok()) return unit.status();
  if (absl::Status restarted = (*manager)->Restart(*unit, options.timeout); !restarted.ok()) {
    return restarted;
  }
  return WaitForSocket(root.Path(options.socket), options.timeout);
}

}  // namespace gpuop::containerd
