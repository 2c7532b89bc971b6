#pragma once

// Runs a program to completion with its output captured, as node agents do for modprobe or
// gpu-admin-tools. No shell is involved: arguments are passed as they are.
//
//   absl::StatusOr<ProcessResult> r = RunProcess({"modprobe", "vfio-pci"}, {.timeout = 10s});
//   if (r.ok() && r->exit_code == 0) ...

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gpuop::common {

struct ProcessOptions {
  std::string stdin_data;  // Written to the child's stdin, which is then closed.
  // The child is killed (SIGKILL) when it runs longer; RunProcess then returns
  // DeadlineExceeded.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  // The child's root: it chroot()s here, and goes to its "/", before exec, so that argv[0] and
  // the libraries it loads are the ones of that tree (the host's nvidia-smi, run from a pod that
  // mounts the host at /host). Empty: this process's root. Needs CAP_SYS_CHROOT.
  std::string root_dir;
  // "NAME=value" entries set in the child's environment, over this process's own.
  std::vector<std::string> env;
};

struct ProcessResult {
  int exit_code = -1;  // The exit status, or 128 + signal number when a signal ended it.
  std::string out;
  std::string err;
};

// argv[0] is looked up in PATH. Errors: NotFound when the program cannot be executed,
// DeadlineExceeded on timeout, the errno's code when a pipe or fork fails, or when the child
// cannot chroot to options.root_dir (PermissionDenied without the capability). A program that
// runs and exits non-zero is not an error: see ProcessResult::exit_code.
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const ProcessOptions& options = {});

}  // namespace gpuop::common
