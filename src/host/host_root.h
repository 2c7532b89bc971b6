#pragma once

// Where the node's filesystem is: "/" for a process on the host, "/host" for an agent in a pod
// that mounts the host's root there, a temp dir in tests. Every host path gpuop reads goes
// through one of these, so the same code reads a real node and a simulated one.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace gpuop::host {

class HostRoot {
 public:
  explicit HostRoot(std::string root = "/");

  // `host_path` ("/sys/bus/pci/devices") as seen from this process.
  std::string Path(std::string_view host_path) const;
  const std::string& Root() const { return root_; }

  // The file's contents with surrounding whitespace trimmed, as sysfs attributes end in "\n".
  absl::StatusOr<std::string> ReadTrimmed(std::string_view host_path) const;
  // The whole file.
  absl::StatusOr<std::string> Read(std::string_view host_path) const;
  bool Exists(std::string_view host_path) const;
  // The last component of a symlink's target ("vfio-pci" for a driver link), nullopt when the
  // link does not exist.
  std::optional<std::string> LinkTargetName(std::string_view host_path) const;
  // Names in a directory, sorted; empty when it does not exist.
  std::vector<std::string> List(std::string_view host_path) const;

 private:
  std::string root_;  // No trailing slash; empty for "/".
};

}  // namespace gpuop::host
