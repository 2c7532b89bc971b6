#pragma once

// Puts the Kata runtime handlers into a node's containerd config and takes them out again,
// touching the user's main config only to add (or remove) one `imports` entry, after backing it
// up once. The drop-in is written before the import that names it, so containerd never sees a
// dangling import (which stops it from starting). A main config that does not parse changes
// nothing. Where the distribution owns the main config (k3s, rke2, k0s) only the drop-in is
// written. Restarting containerd is the caller's.
//
//   absl::StatusOr<InstallResult> done = InstallHandlers(root, options, handlers);

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "containerd/containerd_layout.h"
#include "containerd/containerd_version.h"
#include "containerd/runtime_drop_in.h"
#include "host/host_root.h"

namespace gpuop::containerd {

struct HandlerInstallOptions {
  std::string config_path = "/etc/containerd/config.toml";  // Host path.
  // Host path of the drop-in; the import entry names this same path.
  std::string drop_in_path = "/etc/containerd/conf.d/99-gpuop-kata.toml";
  ContainerdVersion version;
  // kAddImport edits the main config's imports; kRequireImport only checks that it already
  // imports the drop-in (k3s, rke2: the admin's template renders it); kLoadedByDistribution
  // writes the drop-in alone (k0s).
  ImportMode import_mode = ImportMode::kAddImport;
  std::string template_path;  // kRequireImport: named in the error when the import is missing.
  // kAddImport on a template (microk8s): the file rendered from it, whose settings the drop-in
  // repeats on containerd 1.x. Empty, or not there yet: the main config's.
  std::string rendered_path;
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
