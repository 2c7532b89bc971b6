#pragma once

// The operand manifests of deployments/operands, compiled into the binary
// (cmake/EmbedManifests.cmake): one entry per file, sorted by state then file name.

#include <string_view>
#include <vector>

namespace gpuop::op {

struct ManifestFile {
  std::string_view state;  // Its directory: "state-vfio-manager".
  std::string_view name;   // "0500_daemonset.yaml"; the numeric prefix orders a state's objects.
  std::string_view text;
};

const std::vector<ManifestFile>& EmbeddedManifests();

}  // namespace gpuop::op
