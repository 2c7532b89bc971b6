#pragma once

// Checks a MIG layout file (key config.yaml of the MIG manager's ConfigMap) the way NVIDIA's
// mig-parted reads it: version v1, and mig-configs mapping each layout's name to a list of
// {device-filter, devices, mig-enabled, mig-devices}. The operator checks the admin's ConfigMap
// and the layout each node's nvidia.com/mig.config label names before the MIG manager acts on
// them, so that a typo is an Event and a status condition, not a node stuck in "failed".
//
//   GPUOP_ASSIGN_OR_RETURN(std::set<std::string> layouts, CheckMigConfig(text));
//   // InvalidArgument "line 9: mig-configs.all-1g.10gb[0].mig-devices.1g.10gb: ..."

#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace gpuop::op {

// The names of the layouts the file defines.
absl::StatusOr<std::set<std::string>> CheckMigConfig(std::string_view yaml);

}  // namespace gpuop::op
