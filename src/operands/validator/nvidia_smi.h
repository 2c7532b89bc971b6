#pragma once

// nvidia-smi as the validator's proof that a driver works: where to find it (in the host's tree,
// in the driver container's published root, on PATH) and how to run it. The steps take a
// NvidiaSmiRunner, so that tests can put their own in its place; the binary runs the real one.
//
// NVIDIA's validator runs it the same ways (NVIDIA GPU Operator v26.7,
// cmd/nvidia-validator/main.go): chrooted into the host for a driver installed there, and from the
// driver container's root with that root's libnvidia-ml.so.1 in LD_PRELOAD for a containerized
// driver (nvidia-smi loads NVML by soname, and the container's loader would not look there).
//
//   ProcessNvidiaSmiRunner runner;
//   absl::Status works = runner.Run({.program = "/usr/bin/nvidia-smi", .root_dir = "/host"});

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "host/host_root.h"

namespace gpuop::operands {

struct NvidiaSmiCall {
  // The program's path as the child sees it: inside root_dir when that is set.
  std::string program;
  std::string root_dir;    // The child chroots here first; empty: no chroot.
  std::string ld_preload;  // A library put first in LD_PRELOAD; empty: LD_PRELOAD as it is.
};

// Runs nvidia-smi once. Implementations are used from one thread.
class NvidiaSmiRunner {
 public:
  virtual ~NvidiaSmiRunner() = default;
  // OK when nvidia-smi exits 0. FailedPrecondition when it exits otherwise, naming the status and
  // the first line it printed, where nvidia-smi says why (status 9: "couldn't communicate with the
  // NVIDIA driver", the module is not loaded). NotFound when the program cannot be run;
  // PermissionDenied when the chroot is refused; DeadlineExceeded when it hangs.
  virtual absl::Status Run(const NvidiaSmiCall& call) = 0;
};

// The real one: a child process (common::RunProcess), killed after `timeout`. nvidia-smi can
// hang on a GPU that fell off the bus; a hung probe must end so that the step can retry.
class ProcessNvidiaSmiRunner final : public NvidiaSmiRunner {
 public:
  explicit ProcessNvidiaSmiRunner(std::chrono::milliseconds timeout = std::chrono::seconds(60))
      : timeout_(timeout) {}
  absl::Status Run(const NvidiaSmiCall& call) override;

 private:
  const std::chrono::milliseconds timeout_;
};

// A file in a tree (a host's / or a driver container's published root), as that tree's own path
// ("/usr/bin/nvidia-smi"), with every symlink on the way followed as the tree's owner follows it:
// the first `dirs`/`name` that is a non-empty regular file (with an execute bit when
// `executable`). nullopt when there is none.
std::optional<std::string> FindFileIn(const host::HostRoot& tree, std::string_view name,
                                      std::span<const std::string_view> dirs, bool executable);

// Where the steps look, as NVIDIA's validator does. A driver installed on the host: the usual bin
// folders, WSL2's, and /opt/bin (Flatcar's /usr is read-only).
inline constexpr std::string_view kHostNvidiaSmiDirs[] = {
    "/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/lib/wsl/lib", "/opt/bin"};
// WSL2 ships nvidia-smi here, for a driver that belongs to Windows: NVIDIA takes a non-empty file
// there for a host driver without running it, and makes no /dev/char links.
inline constexpr std::string_view kWslLibDir[] = {"/usr/lib/wsl/lib"};
// A driver container's published root.
inline constexpr std::string_view kDriverRootNvidiaSmiDirs[] = {"/", "/usr/bin", "/usr/sbin",
                                                                "/bin", "/sbin"};
inline constexpr std::string_view kDriverRootNvmlDirs[] = {"/",
                                                           "/usr/lib64",
                                                           "/usr/lib/x86_64-linux-gnu",
                                                           "/usr/lib/aarch64-linux-gnu",
                                                           "/lib64",
                                                           "/lib/x86_64-linux-gnu",
                                                           "/lib/aarch64-linux-gnu"};
inline constexpr char kNvidiaSmi[] = "nvidia-smi";
inline constexpr char kNvml[] = "libnvidia-ml.so.1";

// `name` in a PATH-style list of folders (empty entries are skipped, not the current folder):
// its path, or NotFound naming the list.
absl::StatusOr<std::string> FindOnSearchPath(std::string_view name, std::string_view search_path);

}  // namespace gpuop::operands
