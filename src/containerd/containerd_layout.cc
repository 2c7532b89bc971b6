#include "containerd/containerd_layout.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

#include "containerd/config_file.h"

namespace gpuop::containerd {
namespace {

constexpr char kK3sDir[] = "/var/lib/rancher/k3s/agent/etc/containerd";
constexpr char kRke2Dir[] = "/var/lib/rancher/rke2/agent/etc/containerd";
constexpr char kK0sDropInDir[] = "/etc/k0s/containerd.d";
constexpr char kMicroK8sArgs[] = "/var/snap/microk8s/current/args";

// Each distribution's marker files, in the order they are looked for.
std::vector<std::pair<Distribution, std::vector<std::string>>> Markers() {
  return {{Distribution::kK0s, {kK0sDropInDir, "/var/lib/k0s/bin/containerd"}},
          {Distribution::kRke2, {kRke2Dir}},
          {Distribution::kK3s, {kK3sDir}},
          {Distribution::kMicroK8s, {absl::StrCat(kMicroK8sArgs, "/containerd-template.toml")}}};
}

std::string SocketOf(Distribution distribution) {
  switch (distribution) {
    case Distribution::kK3s:
    case Distribution::kRke2:
      return "/run/k3s/containerd/containerd.sock";
    case Distribution::kK0s:
      return "/run/k0s/containerd.sock";
    case Distribution::kMicroK8s:
      return "/var/snap/microk8s/common/run/containerd.sock";
    case Distribution::kContainerd:
      break;
  }
  return "/run/containerd/containerd.sock";
}

// k3s and rke2 render config.toml from config.toml.tmpl, or from config-v3.toml.tmpl for
// containerd 2.x; the rendered file's version says which one is in use. Before the first
// render the node's containerd release decides.
ContainerdLayout RancherLayout(const host::HostRoot& root, Distribution distribution,
                               const std::string& dir, const ContainerdVersion& version,
                               std::vector<std::string> units) {
  const std::string rendered = dir + "/config.toml";
  int schema = version.DefaultSchema();
  if (absl::StatusOr<std::string> text = root.Read(rendered); text.ok()) {
    if (absl::StatusOr<MainConfig> parsed = ParseMainConfig(*text); parsed.ok()) {
      schema = parsed->schema;
    }
  }
  const std::string base = schema >= 3 ? "config-v3.toml" : "config.toml";
  return {.distribution = distribution,
          .import_mode = ImportMode::kRequireImport,
          .config_path = rendered,
          .drop_in_path = absl::StrCat(dir, "/", base, ".d/", kDropInFileName),
          .template_path = absl::StrCat(dir, "/", base, ".tmpl"),
          .units = std::move(units),
          .socket = SocketOf(distribution)};
}

}  // namespace

std::string_view DistributionName(Distribution distribution) {
  switch (distribution) {
    case Distribution::kContainerd:
      return "containerd";
    case Distribution::kK3s:
      return "k3s";
    case Distribution::kRke2:
      return "rke2";
    case Distribution::kK0s:
      return "k0s";
    case Distribution::kMicroK8s:
      return "microk8s";
  }
  return "containerd";
}

absl::StatusOr<Distribution> ParseDistribution(std::string_view name) {
  for (Distribution distribution :
       {Distribution::kContainerd, Distribution::kK3s, Distribution::kRke2, Distribution::kK0s,
        Distribution::kMicroK8s}) {
    if (name == DistributionName(distribution)) return distribution;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("containerd distribution \"", std::string(name),
                   "\" is not containerd, k3s, rke2, k0s or microk8s"));
}

Distribution DetectDistribution(const host::HostRoot& root) {
  // Files a distribution leaves behind when it is removed should not win over the containerd
  // that runs: a distribution whose socket is there comes first.
  std::optional<Distribution> by_files;
  for (const auto& [distribution, markers] : Markers()) {
    const bool marked = std::any_of(markers.begin(), markers.end(),
                                    [&](const std::string& path) { return root.Exists(path); });
    if (!marked) continue;
    if (root.Exists(SocketOf(distribution))) return distribution;
    if (!by_files) by_files = distribution;
  }
  if (by_files && !root.Exists(SocketOf(Distribution::kContainerd))) return *by_files;
  return Distribution::kContainerd;
}

absl::StatusOr<ContainerdLayout> LayoutFor(const host::HostRoot& root, Distribution distribution,
                                           const ContainerdVersion& version) {
  switch (distribution) {
    case Distribution::kContainerd:
      return ContainerdLayout{
          .distribution = distribution,
          .import_mode = ImportMode::kAddImport,
          .config_path = "/etc/containerd/config.toml",
          .drop_in_path = absl::StrCat("/etc/containerd/conf.d/", kDropInFileName),
          .units = {"containerd.service"},
          .socket = SocketOf(distribution)};
    case Distribution::kK3s:
      return RancherLayout(root, distribution, kK3sDir, version,
                           {"k3s.service", "k3s-agent.service"});
    case Distribution::kRke2:
      return RancherLayout(root, distribution, kRke2Dir, version,
                           {"rke2-server.service", "rke2-agent.service"});
    case Distribution::kK0s:
      return ContainerdLayout{.distribution = distribution,
                              .import_mode = ImportMode::kLoadedByDistribution,
                              .config_path = "/etc/k0s/containerd.toml",
                              .drop_in_path = absl::StrCat(kK0sDropInDir, "/", kDropInFileName),
                              .socket = SocketOf(distribution)};
    case Distribution::kMicroK8s:
      // The snap renders args/containerd.toml from this template when its containerd starts.
      return ContainerdLayout{
          .distribution = distribution,
          .import_mode = ImportMode::kAddImport,
          .config_path = absl::StrCat(kMicroK8sArgs, "/containerd-template.toml"),
          .drop_in_path = absl::StrCat(kMicroK8sArgs, "/conf.d/", kDropInFileName),
          .rendered_path = absl::StrCat(kMicroK8sArgs, "/containerd.toml"),
          .units = {"snap.microk8s.daemon-containerd.service"},
          .socket = SocketOf(distribution)};
  }
  return absl::InvalidArgumentError("unknown containerd distribution");
}

}  // namespace gpuop::containerd
