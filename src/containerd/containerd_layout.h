#pragma once

// Where a node's containerd reads its config, how gpuop may add its drop-in to it, which systemd
// unit runs it and where its socket is. Plain containerd and the distributions that embed their
// own differ, as kata-deploy also handles them (kata-containers main, Aug 2026:
// tools/packaging/kata-deploy/binary/src/runtime/containerd.rs):
//   - containerd, microk8s: gpuop adds one `imports` entry to the main config (microk8s: to the
//     template its containerd.toml is rendered from at every start);
//   - k3s, rke2: containerd.toml is rendered from a template at every start, so an edit would be
//     lost and the template is the admin's. gpuop writes into config[-v3].toml.d/ only when the
//     rendered config already imports it, and otherwise says what to add to the template;
//   - k0s: files in /etc/k0s/containerd.d/ are loaded by k0s itself, which also restarts its
//     containerd; nothing else is touched or restarted.
//
//   Distribution distribution = DetectDistribution(root);
//   absl::StatusOr<ContainerdLayout> layout = LayoutFor(root, distribution, version);

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "containerd/containerd_version.h"
#include "host/host_root.h"

namespace gpuop::containerd {

enum class Distribution { kContainerd, kK3s, kRke2, kK0s, kMicroK8s };

// How the drop-in reaches containerd.
enum class ImportMode {
  kAddImport,             // gpuop adds (and on cleanup removes) the main config's import entry.
  kRequireImport,         // The main config must already import the drop-in; gpuop never edits it.
  kLoadedByDistribution,  // The distribution loads the drop-in dir itself; no main config read.
};

struct ContainerdLayout {
  Distribution distribution = Distribution::kContainerd;
  ImportMode import_mode = ImportMode::kAddImport;
  std::string config_path;   // Host path of the main config (kRequireImport: the rendered one).
  std::string drop_in_path;  // Host path of gpuop's drop-in.
  // For the admin when the import is missing (kRequireImport): the template to add it to.
  std::string template_path;
  // Where config_path is a template (microk8s), the file rendered from it: containerd 1.x
  // settings the drop-in must repeat are read there, with the placeholders filled in.
  std::string rendered_path;
  // systemd units to restart after a change, the first one loaded on the host; empty when the
  // distribution restarts containerd itself.
  std::vector<std::string> units;
  std::string socket;  // Host path of containerd's socket.
};

std::string_view DistributionName(Distribution distribution);

// "auto" is not a distribution: the caller detects it (DetectDistribution).
absl::StatusOr<Distribution> ParseDistribution(std::string_view name);

// Which distribution runs the node's containerd, from the files each one keeps on the host;
// plain containerd when none is there.
Distribution DetectDistribution(const host::HostRoot& root);

// The layout of `distribution` on this host. For k3s and rke2 the drop-in dir follows the
// rendered config's schema (config-v3.toml.d for version 3, as their templates are named).
absl::StatusOr<ContainerdLayout> LayoutFor(const host::HostRoot& root, Distribution distribution,
                                           const ContainerdVersion& version);

// The drop-in's file name in every layout.
inline constexpr char kDropInFileName[] = "99-gpuop-kata.toml";

}  // namespace gpuop::containerd
