#pragma once

// The pinned helm (tools/helm/build.sh), with the chart's dependency (NFD's chart) packed into
// its charts/ folder (tools/nfd/package-chart.sh), without which helm refuses to render the
// chart at all. Both scripts do nothing once their result is cached. Test-only.

#include <chrono>
#include <string>

#include "common/subprocess.h"

namespace gpuop::testing {

// The helm binary's path; empty when either script fails.
inline std::string PinnedHelm() {
  absl::StatusOr<common::ProcessResult> packed =
      common::RunProcess({std::string(GPUOP_SOURCE_DIR) + "/tools/nfd/package-chart.sh"},
                         {.timeout = std::chrono::minutes(10)});
  if (!packed.ok() || packed->exit_code != 0) return "";
  absl::StatusOr<common::ProcessResult> built =
      common::RunProcess({std::string(GPUOP_SOURCE_DIR) + "/tools/helm/build.sh"},
                         {.timeout = std::chrono::minutes(10)});
  if (!built.ok() || built->exit_code != 0) return "";
  std::string path = built->out;
  while (!path.empty() && path.back() == '\n') path.pop_back();
  return path.substr(path.rfind('\n') + 1);
}

// The chart in this checkout.
inline std::string ChartDir() { return std::string(GPUOP_SOURCE_DIR) + "/deployments/helm/gpuop"; }

}  // namespace gpuop::testing
