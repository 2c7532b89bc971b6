#pragma once

// Installs one runtime class's Kata artifacts into <artifactsDir>/<name>/ whole or not at all:
// the files are pulled into a staging directory beside it, checked, the Kata configuration's
// kernel/image/initrd pointed at where they now live, and the directory swapped in by one
// rename (RENAME_EXCHANGE over an older one), so a reader never sees half an install. The
// manifest digest is recorded in the directory; when the reference still resolves to it, a
// rerun downloads nothing.
//
//   absl::StatusOr<InstalledArtifact> done = InstallArtifact(registry, runtime_class, options,
//   log);

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "common/logger.h"
#include "oci/artifact_puller.h"
#include "oci/registry_client.h"
#include "operands/kata_manager/artifact_record.h"
#include "operands/kata_manager/kata_manager_config.h"

namespace gpuop::operands {

struct ArtifactInstallOptions {
  std::string artifacts_dir;       // As this process sees it (under the host root).
  std::string host_artifacts_dir;  // As the host (containerd, the Kata shim) sees it.
  std::string architecture = "amd64";
};

struct InstalledArtifact {
  std::string name;
  std::string digest;
  std::string config_path;  // Host path of the Kata configuration TOML: the handler's ConfigPath.
  std::vector<oci::PulledFile> files;
  bool downloaded = false;  // false: the installed digest was current, nothing was fetched.
};

absl::StatusOr<InstalledArtifact> InstallArtifact(oci::RegistryClient& registry,
                                                  const RuntimeClassArtifacts& runtime_class,
                                                  const ArtifactInstallOptions& options,
                                                  common::Logger& log);

// The Kata configuration with `[hypervisor.<any>]` kernel, image and initrd pointed at
// <dir>/<their file name>; everything else kept. Errors when the text is not TOML.
absl::StatusOr<std::string> PointKataConfigAt(const std::string& toml_text, const std::string& dir);

}  // namespace gpuop::operands
