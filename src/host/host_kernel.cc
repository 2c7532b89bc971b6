#include "host/host_kernel.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <future>
#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "common/subprocess.h"
#include "common/unique_fd.h"

namespace gpuop::host {
namespace {

absl::Status WriteOnce(const std::string& path, const std::string& value) {
  common::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.Valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  // One write(2): a sysfs store callback sees exactly what one write carries.
  ssize_t written;
  do {
    written = ::write(fd.Get(), value.data(), value.size());
  } while (written < 0 && errno == EINTR);
  if (written < 0) return absl::ErrnoToStatus(errno, absl::StrCat("write ", path));
  return absl::OkStatus();
}

}  // namespace

absl::Status HostKernel::WriteAttribute(std::string_view path, std::string_view value,
                                        std::chrono::milliseconds timeout) {
  // A write that blocks in the kernel (nvidia's remove waiting for its users) cannot be
  // interrupted; it runs on a thread of its own, which we stop waiting for after `timeout`
  // and leave to finish whenever the kernel lets it.
  auto done = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> result = done->get_future();
  std::thread([done, full_path = root_.Path(path), text = std::string(value)] {
    done->set_value(WriteOnce(full_path, text));
  }).detach();
  if (result.wait_for(timeout) != std::future_status::ready) {
    return absl::DeadlineExceededError(absl::StrCat(
        "write ", std::string(path), ": still blocked after ", timeout.count(), " ms"));
  }
  return result.get();
}

absl::Status HostKernel::LoadModule(std::string_view module) {
  std::vector<std::string> argv;
  if (!root_.Root().empty() && root_.Root() != "/") argv = {"chroot", root_.Root()};
  argv.insert(argv.end(), {"modprobe", std::string(module)});
  absl::StatusOr<common::ProcessResult> run =
      common::RunProcess(argv, {.timeout = std::chrono::seconds(60)});
  if (!run.ok()) return run.status();
  if (run->exit_code == 0) return absl::OkStatus();
  const std::string message =
      absl::StrCat("modprobe ", std::string(module), ": ", run->err.substr(0, 300));
  // kmod's words for a module that is not installed.
  if (absl::StrContains(run->err, "not found")) return absl::NotFoundError(message);
  return absl::InternalError(message);
}

}  // namespace gpuop::host
