#include "cli/signals.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace gpuop::cli {
namespace {

// The write end of the current StopOnSignals' pipe; the handler may use only this.
volatile sig_atomic_t g_signal_pipe = -1;

extern "C" void OnStopSignal(int /*signal_number*/) {
  const int saved_errno = errno;
  const char byte = 1;
  if (g_signal_pipe >= 0) (void)!::write(g_signal_pipe, &byte, 1);
  errno = saved_errno;
}

void SetHandler(void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

}  // namespace

StopOnSignals::StopOnSignals(common::StopSignal& stop) : stop_(stop) {
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return;  // Then only the default action.
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  g_signal_pipe = write_fd_;
  // A handler, not a blocked mask and sigwait: a thread started earlier (civetweb's, gRPC's)
  // would take the signal with the default action, which the kernel drops for a container's
  // PID 1, and the process would never stop (seen in the e2e cluster).
  SetHandler(OnStopSignal);
  waiter_ = std::thread([this] {
    // Waits in slices, so that the destructor can end it by stopping instead of signalling it.
    pollfd readable{.fd = read_fd_, .events = POLLIN, .revents = 0};
    while (!stop_.Stopped()) {
      if (::poll(&readable, 1, 200) > 0) stop_.Stop();
    }
  });
}

StopOnSignals::~StopOnSignals() {
  stop_.Stop();
  if (waiter_.joinable()) waiter_.join();
  if (write_fd_ < 0) return;
  SetHandler(SIG_DFL);
  g_signal_pipe = -1;
  ::close(write_fd_);
  ::close(read_fd_);
}

}  // namespace gpuop::cli
