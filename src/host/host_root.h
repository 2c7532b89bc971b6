#pragma once

// Where the node's filesystem is: "/" for a process on the host, "/host" for an agent in a pod
// that mounts the host's root there, a temp dir in tests. Every host path gpuop reads goes
// through one of these, so the same code reads a real node and a simulated one.
//
// A host's symlinks are the host's: an absolute link such as /etc/containerd/config.toml ->
// /usr/share/containerd/config.toml means the host's /usr, not the agent's. The kernel follows
// such a link through the agent's own / when the path is opened as Path() spells it, so a path
// gpuop writes or removes is first Resolve()d: each link followed inside the root, as the host
// follows it.

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

  // `host_path` with every symlink in it followed as the host follows it: an absolute target is
  // taken from the host's /, and ".." never climbs above it. A path whose last components do
  // not exist resolves to where they would be. Errors (naming the path) on a link loop or more
  // than 40 links, a component that is not a directory, or a link that cannot be read.
  struct Resolved {
    std::string host_path;      // Absolute, no ".", "..", or repeated '/'.
    bool through_link = false;  // Some link was followed on the way.
    bool exists = false;        // Something (not a dangling link) is at host_path.
  };
  absl::StatusOr<Resolved> Resolve(std::string_view host_path) const;

 private:
  std::string root_;  // No trailing slash; empty for "/".
};

}  // namespace gpuop::host
