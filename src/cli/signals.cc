#include "cli/signals.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <mutex>

namespace gpuop::cli {
namespace {

// One self-pipe for the process, made once and never closed: the handler may run on any thread
// at any time, so the descriptor it writes to must never be closed (and its number reused)
// under it. A handler with nobody listening writes a byte nobody reads; the pipe is
// non-blocking, so a full pipe drops it.
struct SignalPipe {
  int read_fd = -1;
  int write_fd = -1;
};

SignalPipe& Pipe() {
  static SignalPipe* const pipe = [] {
    auto* made = new SignalPipe();
    int fds[2] = {-1, -1};
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
      made->read_fd = fds[0];
      made->write_fd = fds[1];
    }
    return made;
  }();
  return *pipe;
}

std::atomic<int> g_write_fd{-1};

extern "C" void OnStopSignal(int /*signal_number*/) {
  const int saved_errno = errno;
  const int fd = g_write_fd.load(std::memory_order_relaxed);
  const char byte = 1;
  if (fd >= 0) (void)!::write(fd, &byte, 1);
  errno = saved_errno;
}

void Drain(int fd) {
  char bytes[64];
  while (::read(fd, bytes, sizeof(bytes)) > 0) {
  }
}

}  // namespace

StopOnSignals::StopOnSignals(common::StopSignal& stop) : stop_(stop) {
  const SignalPipe& pipe = Pipe();
  if (pipe.write_fd < 0) {
    // Without the pipe there is no safe way to hear the signal; say so where it shows, rather
    // than hang as a container's PID 1 (whose default action the kernel ignores).
    (void)std::fputs("gpuop: cannot make the signal pipe; SIGTERM will not stop this process\n",
                     stderr);
    return;
  }
  Drain(pipe.read_fd);  // A byte left by an earlier instance's signal is not ours.
  g_write_fd.store(pipe.write_fd);
  // A handler, not a blocked mask and sigwait: a thread started earlier (civetweb's, gRPC's)
  // would take the signal with the default action, which the kernel drops for a container's
  // PID 1, and the process would never stop (seen in the e2e cluster).
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, &previous_term_);
  sigaction(SIGINT, &action, &previous_int_);
  installed_ = true;
  waiter_ = std::thread([this, read_fd = pipe.read_fd] {
    // Waits in slices, so that the destructor can end it by stopping instead of signalling it.
    pollfd readable{.fd = read_fd, .events = POLLIN, .revents = 0};
    while (!stop_.Stopped()) {
      if (::poll(&readable, 1, 200) > 0) {
        Drain(read_fd);
        stop_.Stop();
      }
    }
  });
}

StopOnSignals::~StopOnSignals() {
  stop_.Stop();
  if (waiter_.joinable()) waiter_.join();
  if (!installed_) return;
  // What the process had before, not the default: a caller's own handler or SIG_IGN survives.
  sigaction(SIGTERM, &previous_term_, nullptr);
  sigaction(SIGINT, &previous_int_, nullptr);
}

}  // namespace gpuop::cli
