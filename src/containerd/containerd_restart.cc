#include "containerd/containerd_restart.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"

#include "common/subprocess.h"
#include "common/unique_fd.h"

namespace gpuop::containerd {

absl::Status WaitForSocket(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path too long: ", path));
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    common::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.Valid() &&
        ::connect(fd.Get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
      return absl::OkStatus();
    }
    if (std::chrono::steady_clock::now() >= until) {
      return absl::DeadlineExceededError(
          absl::StrCat("containerd's socket ", path, " takes no connections after ",
                       std::chrono::duration_cast<std::chrono::seconds>(timeout).count(), " s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

absl::Status RestartContainerd(const host::HostRoot& root, const RestartOptions& options) {
  if (options.mode == "none") return absl::OkStatus();
  if (options.mode != "systemd") {
    return absl::InvalidArgumentError(
        absl::StrCat("containerd restart mode \"", options.mode, "\" is not systemd or none"));
  }
  std::vector<std::string> argv = {"systemctl", "restart", options.unit};
  // From a pod, the host's systemctl talks to the host's systemd through the host's /run.
  if (root.Root() != "/" && !root.Root().empty())
    argv.insert(argv.begin(), {"chroot", root.Root()});
  absl::StatusOr<common::ProcessResult> run =
      common::RunProcess(argv, {.timeout = options.timeout});
  if (!run.ok()) return run.status();
  if (run->exit_code != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("systemctl restart ", options.unit, " failed: ", run->err.substr(0, 300)));
  }
  return WaitForSocket(root.Path(options.socket), options.timeout);
}

}  // namespace gpuop::containerd
