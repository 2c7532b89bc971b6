#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "absl/strings/str_cat.h"

#include "common/clock.h"
#include "common/unique_fd.h"

namespace gpuop::common {
namespace {

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

absl::StatusOr<Pipe> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return absl::ErrnoToStatus(errno, "pipe2");
  }
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// What a child that could not exec writes to the close-on-exec pipe: which step failed and its
// errno. The parent sees these bytes instead of EOF.
struct ChildFailure {
  enum Step : int { kExec, kChroot };
  int step = kExec;
  int error = 0;
};

// What the child runs, built before fork() so that the child need not allocate.
struct ChildExec {
  char* const* args;
  char* const* envp;     // nullptr: this process's environment.
  const char* root_dir;  // nullptr: no chroot.
};

[[noreturn]] void ReportChildFailure(Pipe& exec_error, ChildFailure::Step step) {
  const ChildFailure failure{step, errno};
  [[maybe_unused]] ssize_t n = ::write(exec_error.write.Get(), &failure, sizeof(failure));
  ::_exit(127);
}

// Child side of fork(): wire up the pipes, chroot, and exec. Only async-signal-safe calls from
// here on: no allocation. A parent with other threads (the CC manager runs one tool per GPU at
// once) may fork while one of them holds the allocator's lock, and a child that allocated would
// wait for it forever (seen under ASan: a switch of twelve devices hung).
[[noreturn]] void ExecChild(const ChildExec& exec, Pipe& in, Pipe& out, Pipe& err,
                            Pipe& exec_error) {
  ::dup2(in.read.Get(), STDIN_FILENO);
  ::dup2(out.write.Get(), STDOUT_FILENO);
  ::dup2(err.write.Get(), STDERR_FILENO);
  // Without the chdir the child's working folder would stay outside its new root.
  if (exec.root_dir != nullptr && (::chroot(exec.root_dir) != 0 || ::chdir("/") != 0)) {
    ReportChildFailure(exec_error, ChildFailure::kChroot);
  }
  if (exec.envp != nullptr) {
    ::execvpe(exec.args[0], exec.args, exec.envp);
  } else {
    ::execvp(exec.args[0], exec.args);
  }
  ReportChildFailure(exec_error, ChildFailure::kExec);
}

// This process's environment with `overrides` ("NAME=value") set over it.
std::vector<std::string> EnvironmentWith(const std::vector<std::string>& overrides) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view current(*entry);
    const std::string_view name = current.substr(0, current.find('='));
    bool overridden = false;
    for (const std::string& override : overrides) {
      overridden = overridden || std::string_view(override).substr(0, override.find('=')) == name;
    }
    if (!overridden) env.emplace_back(current);
  }
  env.insert(env.end(), overrides.begin(), overrides.end());
  return env;
}

// A child that exits without reading all its stdin makes write() raise SIGPIPE, which would
// kill the caller. MSG_NOSIGNAL exists for sockets only, and the process-wide disposition is not
// ours to change, so block SIGPIPE on this thread for the write and take back the one it raised.
ssize_t WriteWithoutSigpipe(int fd, const char* data, size_t size) {
  sigset_t sigpipe, previous;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &sigpipe, &previous);
  const ssize_t n = ::write(fd, data, size);
  const int write_errno = errno;
  if (n < 0 && write_errno == EPIPE) {
    const timespec no_wait{};
    while (sigtimedwait(&sigpipe, nullptr, &no_wait) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  errno = write_errno;
  return n;
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

}  // namespace

absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const ProcessOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("RunProcess: empty argv");
  absl::StatusOr<Pipe> in = MakePipe(), out = MakePipe(), err = MakePipe(), exec_error = MakePipe();
  for (const auto* pipe : {&in, &out, &err, &exec_error}) {
    if (!pipe->ok()) return pipe->status();
  }

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const std::vector<std::string> env =
      options.env.empty() ? std::vector<std::string>() : EnvironmentWith(options.env);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (const std::string& entry : env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  const ChildExec exec{.args = args.data(),
                       .envp = options.env.empty() ? nullptr : envp.data(),
                       .root_dir = options.root_dir.empty() ? nullptr : options.root_dir.c_str()};
  const pid_t pid = ::fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) ExecChild(exec, *in, *out, *err, *exec_error);

  in->read.Reset();
  out->write.Reset();
  err->write.Reset();
  exec_error->write.Reset();

  ChildFailure failure;
  if (::read(exec_error->read.Get(), &failure, sizeof(failure)) == sizeof(failure)) {
    ::waitpid(pid, nullptr, 0);
    if (failure.step == ChildFailure::kChroot) {
      return absl::ErrnoToStatus(failure.error,
                                 absl::StrCat("chroot to ", options.root_dir, " to run ", argv[0]));
    }
    // ENOENT, EACCES, ENOEXEC...: all mean "this program cannot be run", which callers treat
    // alike.
    return absl::NotFoundError(
        absl::ErrnoToStatus(failure.error, absl::StrCat("cannot run ", argv[0])).message());
  }

  // stdin is written non-blocking inside the poll loop, so a child that writes a lot before it
  // reads cannot deadlock us.
  ::fcntl(in->write.Get(), F_SETFL, O_NONBLOCK);
  if (options.stdin_data.empty()) in->write.Reset();
  size_t stdin_written = 0;

  ProcessResult result;
  const Clock& clock = SteadyClock::Instance();
  const auto deadline = clock.Now() + options.timeout;
  bool timed_out = false;
  char buffer[16384];
  while (out->read.Valid() || err->read.Valid()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.Now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[3] = {
        {out->read.Get(), POLLIN, 0}, {err->read.Get(), POLLIN, 0}, {in->write.Get(), POLLOUT, 0}};
    if (::poll(fds, 3, static_cast<int>(left.count())) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      UniqueFd& fd = i == 0 ? out->read : err->read;
      const ssize_t n = ::read(fd.Get(), buffer, sizeof(buffer));
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fd.Reset();
      }
    }
    if (fds[2].revents != 0) {
      const ssize_t n =
          WriteWithoutSigpipe(in->write.Get(), options.stdin_data.data() + stdin_written,
                              options.stdin_data.size() - stdin_written);
      if (n > 0) stdin_written += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
          stdin_written == options.stdin_data.size()) {
        in->write.Reset();
      }
    }
  }
  // The child may close its output and still run: the deadline holds for its exit too.
  int wait_status = 0;
  while (!timed_out) {
    const pid_t done = ::waitpid(pid, &wait_status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    if (clock.Now() >= deadline) {
      timed_out = true;
      break;
    }
    ::usleep(2000);
  }
  if (timed_out) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
    }
  }
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(argv[0], " did not finish within ",
                                                    options.timeout.count(), " ms; killed it"));
  }
  result.exit_code = ExitCodeOf(wait_status);
  return result;
}

}  // namespace gpuop::common
