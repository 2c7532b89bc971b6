#pragma once

// The node's containerd as the kata manager will touch it: which release it runs, whose layout
// it has (containerd/containerd_layout.h), and the paths and restart mode the agent's flags name
// in place of the layout's.
//
//   absl::StatusOr<ContainerdVersion> version = DetectContainerd(root, flag, node);
//   absl::StatusOr<ContainerdTarget> target = ResolveContainerd(root, overrides, *version);

#include <string>

#include "absl/status/statusor.h"

#include "containerd/containerd_layout.h"
#include "containerd/containerd_restart.h"
#include "containerd/containerd_version.h"
#include "containerd/handler_installer.h"
#include "host/host_root.h"
#include "operands/kata_manager/kata_node_reporter.h"

namespace gpuop::operands {

// The node's containerd release: `given` (--containerd-version) when set, else what kubelet
// reports on the Node ("containerd://1.7.27"; `node` may be nullptr), else `containerd --version`
// of the host's binary (which may not run in the agent's image).
absl::StatusOr<containerd::ContainerdVersion> DetectContainerd(const host::HostRoot& root,
                                                               const std::string& given,
                                                               KataNode* node);

// What the agent's flags say about containerd; each path empty for the layout's own.
struct ContainerdOverrides {
  std::string distribution = "auto";  // "auto" (told by the host's files) or a distribution.
  std::string config;
  std::string drop_in;
  std::string socket;
  std::string restart = "auto";  // containerd/containerd_restart.h's modes.
  std::string systemd_bus;
};

struct ContainerdTarget {
  containerd::ContainerdLayout layout;
  containerd::HandlerInstallOptions install;
  containerd::RestartOptions restart;
};

// The layout of the distribution named (or detected) for `version`, with the overrides in place
// of its paths. A restart mode left "auto" is "none" where the distribution restarts containerd
// itself (k0s, whose layout has no units). InvalidArgument for an unknown distribution.
absl::StatusOr<ContainerdTarget> ResolveContainerd(const host::HostRoot& root,
                                                   const ContainerdOverrides& overrides,
                                                   const containerd::ContainerdVersion& version);

}  // namespace gpuop::operands
