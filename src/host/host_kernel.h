#pragma once

// The real kernel behind host::Kernel: sysfs writes with open(2)+write(2) under the host root,
// and modules loaded by the host's own modprobe (through chroot when the host root is not "/",
// as in a pod that mounts the host at /host, so the host's module tree and modprobe.d apply).

#include "host/host_root.h"
#include "host/kernel.h"

namespace gpuop::host {

class HostKernel final : public Kernel {
 public:
  explicit HostKernel(HostRoot root) : root_(std::move(root)) {}

  absl::Status WriteAttribute(std::string_view path, std::string_view value,
                              std::chrono::milliseconds timeout) override;
  absl::Status LoadModule(std::string_view module) override;

 private:
  const HostRoot root_;
};

}  // namespace gpuop::host
