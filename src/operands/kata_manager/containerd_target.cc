#include "operands/kata_manager/containerd_target.h"

#include <chrono>

#include "common/subprocess.h"

namespace gpuop::operands {

absl::StatusOr<containerd::ContainerdVersion> DetectContainerd(const host::HostRoot& root,
                                                               const std::string& given,
                                                               KataNode* node) {
  if (!given.empty()) return containerd::ParseContainerdRelease(given);
  if (node != nullptr) {
    absl::StatusOr<std::string> reported = node->ContainerRuntimeVersion();
    if (reported.ok() && reported->starts_with("containerd://")) {
      return containerd::ParseContainerdRelease(reported->substr(13));
    }
  }
  // Where plain containerd, k3s, rke2, k0s and microk8s keep it.
  for (const char* binary :
       {"/usr/bin/containerd", "/usr/local/bin/containerd",
        "/var/lib/rancher/k3s/data/current/bin/containerd", "/var/lib/rancher/rke2/bin/containerd",
        "/var/lib/k0s/bin/containerd", "/snap/microk8s/current/bin/containerd"}) {
    if (!root.Exists(binary)) continue;
    absl::StatusOr<common::ProcessResult> run =
        common::RunProcess({root.Path(binary), "--version"}, {.timeout = std::chrono::seconds(10)});
    if (run.ok() && run->exit_code == 0) return containerd::ParseContainerdVersion(run->out);
  }
  return absl::NotFoundError(
      "cannot run the host's containerd --version; say which it is with --containerd-version");
}

absl::StatusOr<ContainerdTarget> ResolveContainerd(const host::HostRoot& root,
                                                   const ContainerdOverrides& overrides,
                                                   const containerd::ContainerdVersion& version) {
  containerd::Distribution distribution = containerd::DetectDistribution(root);
  if (overrides.distribution != "auto") {
    absl::StatusOr<containerd::Distribution> named =
        containerd::ParseDistribution(overrides.distribution);
    if (!named.ok()) return named.status();
    distribution = *named;
  }
  absl::StatusOr<containerd::ContainerdLayout> layout =
      containerd::LayoutFor(root, distribution, version);
  if (!layout.ok()) return layout.status();
  ContainerdTarget target{.layout = *layout};
  if (!overrides.config.empty()) target.layout.config_path = overrides.config;
  if (!overrides.drop_in.empty()) target.layout.drop_in_path = overrides.drop_in;
  if (!overrides.socket.empty()) target.layout.socket = overrides.socket;
  target.install = {.config_path = target.layout.config_path,
                    .drop_in_path = target.layout.drop_in_path,
                    .version = version,
                    .import_mode = target.layout.import_mode,
                    .template_path = target.layout.template_path,
                    .rendered_path = target.layout.rendered_path};
  // k0s restarts its containerd itself when its drop-in dir changes.
  const bool restarts_itself = target.layout.units.empty() && overrides.restart == "auto";
  target.restart = {.mode = restarts_itself ? "none" : overrides.restart,
                    .units = target.layout.units,
                    .socket = target.layout.socket,
                    .systemd_bus = overrides.systemd_bus};
  return target;
}

}  // namespace gpuop::operands
