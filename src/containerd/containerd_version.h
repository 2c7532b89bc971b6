#pragma once

// Which containerd a node runs, from `containerd --version`. The release decides the config
// schema (2 for 1.x, 3 for 2.x), whether CDI exists (1.7+), and whether an imported file merges
// into a plugin's settings (2.x) or replaces them whole (1.x) (containerd release/1.6 to
// release/2.3 sources: the config loader's imports, the CRI plugin's enable_cdi, off by default
// in 1.7 and on from 2.0).

#include <string>

#include "absl/status/statusor.h"

namespace gpuop::containerd {

struct ContainerdVersion {
  int major = 0;
  int minor = 0;

  bool AtLeast(int want_major, int want_minor) const {
    return major > want_major || (major == want_major && minor >= want_minor);
  }
  // 1.7 added CDI; 1.6 has none.
  bool HasCdi() const { return AtLeast(1, 7); }
  // containerd 2.x merges an imported file's plugin tables into the main config's; 1.x lets the
  // imported file's table for a plugin replace the main config's table for it whole.
  bool MergesImportedPluginTables() const { return major >= 2; }
  // The config schema this release writes by default.
  int DefaultSchema() const { return major >= 2 ? 3 : 2; }
};

// A release as written on its own: "1.6.20~ds1", "v2.1.4", "1.7" (a flag, or the Node's
// "containerd://<release>").
absl::StatusOr<ContainerdVersion> ParseContainerdRelease(const std::string& release);

// "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3" (Debian),
// "containerd containerd.io 1.7.27 05044ec0a9a7" (Docker's), "containerd
// github.com/containerd/containerd/v2 v2.1.4 75cb2b7" (upstream 2.x).
absl::StatusOr<ContainerdVersion> ParseContainerdVersion(const std::string& output);

}  // namespace gpuop::containerd
