#pragma once

// Puts the Kata runtime handlers into a node's containerd config and takes them out again,
// touching the user's main config only to add (or remove) one `imports` entry, after backing it
// up once. The drop-in is written before the import that names it, so containerd never sees a
// dangling import (which stops it from starting). A main config that does not parse changes
// nothing. Restarting containerd is the caller's.
//
//   absl::StatusOr<InstallResult> done = InstallHandlers(root, options, handlers);

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "containerd/containerd_version.h"
#include "containerd/runtime_drop_in.h"
#include "host/host_root.h"

namespace gpuop::containerd {

struct HandlerInstallOptions {
  std::string config_path = "/etc/containerd/config.toml";  // Host path.
  // Host path of the drop-in; the import entry names this same path.
  std::string drop_in_path = "/etc/containerd/conf.d/99-gpuop-kata.toml";
  ContainerdVersion version;
};

struct InstallResult {
  bool changed = false;  // Some file was written: containerd must restart to see it.
  DropInPlan plan;
};

absl::StatusOr<InstallResult> InstallHandlers(const host::HostRoot& root,
                                              const HandlerInstallOptions& options,
                                              const std::vector<RuntimeHandler>& handlers);

// Takes out exactly what InstallHandlers added: the import entry (or the line, or the whole
// file when gpuop created it), the drop-in, and the backup once it equals the main config
// again. True when something changed.
absl::StatusOr<bool> RemoveHandlers(const host::HostRoot& root,
                                    const HandlerInstallOptions& options);

// The suffixes of the files kept beside the main config.
inline constexpr char kBackupSuffix[] = ".gpuop.bak";
inline constexpr char kCreatedMarkerSuffix[] = ".gpuop-created";

}  // namespace gpuop::containerd
