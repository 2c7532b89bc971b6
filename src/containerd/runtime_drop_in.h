#pragma once

// The containerd drop-in gpuop imports: one Kata runtime handler per runtime class, with the
// keys the Kata shim reads (containerd's CRI runtime options, internal/cri/config/config.go,
// as kata-deploy fills them: runtime_type, privileged_without_host_devices, pod_annotations
// "io.katacontainers.*", options.ConfigPath), and CDI turned on where containerd has it.
// On containerd 1.x an imported file's table for a plugin replaces the main config's table for
// that plugin whole (seen with Debian's 1.6.20: a drop-in adding a runtime dropped the stock CNI
// paths), so there the drop-in carries the user's own CRI table with the handlers added to it;
// on 2.x it holds only what gpuop adds.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "containerd/config_file.h"
#include "containerd/containerd_version.h"

namespace gpuop::containerd {

inline constexpr char kKataRuntimeType[] = "io.containerd.kata.v2";

// The first line of every drop-in gpuop writes: what proves a file at the drop-in's path
// gpuop's, to be rewritten or removed. Any other file there is the admin's and left alone.
inline constexpr char kDropInHeader[] = "# Written by gpuop kata-manager";

struct RuntimeHandler {
  std::string name;         // The RuntimeClass handler: "kata-qemu-nvidia-gpu".
  std::string config_path;  // The Kata configuration TOML the shim loads (options.ConfigPath).
};

struct DropInPlan {
  int schema = 2;          // 2 or 3: the main config's, or the release's default when it has none.
  std::string cri_plugin;  // "io.containerd.grpc.v1.cri" or "io.containerd.cri.v1.runtime".
  bool cdi = false;        // enable_cdi and cdi_spec_dirs written.
  bool carries_user_cri_table = false;
};

// What the drop-in for `main` on `version` will look like; an error for a schema-1 main config,
// which gpuop does not edit (containerd `config migrate` converts it).
absl::StatusOr<DropInPlan> PlanDropIn(const MainConfig& main, bool main_exists,
                                      const ContainerdVersion& version);

// OK when no handler takes a name the node's containerd already gives a runtime of its own:
// one the main config defines or makes the default, or "runc". A drop-in entry of that name
// would replace the admin's runtime (every pod on the node started under Kata), so it is
// refused, naming the runtime class.
absl::Status CheckHandlerNamesAreFree(const DropInPlan& plan, const MainConfig& main,
                                      const std::vector<RuntimeHandler>& handlers);

// The drop-in's TOML text.
std::string RenderDropIn(const DropInPlan& plan, const MainConfig& main,
                         const std::vector<RuntimeHandler>& handlers);

}  // namespace gpuop::containerd
