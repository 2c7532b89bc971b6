#pragma once

// The confidential-computing modes, in the words of NVIDIA's label nvidia.com/cc.mode
// (NVIDIA k8s-cc-manager v1.0.0, main.py): what an admin asks for, what the CC manager writes into
// nvidia.com/cc.mode.state, what a ClusterPolicy's ccManager.defaultMode names and what our BAR0
// read finds a device in. One type, parsed from and named as the label's value here only, so
// the agent, the operator and the hardware reader cannot come to spell a mode two ways.
//
//   absl::StatusOr<api::CcMode> mode = api::ParseCcMode(label);
//   if (mode.ok() && *mode == api::CcMode::kPpcie) ...

#include <string_view>

#include "absl/status/statusor.h"

namespace gpuop::api {

// kPpcie is protected PCIe: every GPU and NVSwitch of the node together, with CC off.
enum class CcMode { kOff, kOn, kDevtools, kPpcie };

// Every mode, in the order messages list them.
inline constexpr CcMode kAllCcModes[] = {CcMode::kOn, CcMode::kOff, CcMode::kDevtools,
                                         CcMode::kPpcie};

// "off", "on", "devtools" or "ppcie".
constexpr std::string_view CcModeName(CcMode mode) {
  switch (mode) {
    case CcMode::kOff:
      return "off";
    case CcMode::kOn:
      return "on";
    case CcMode::kDevtools:
      return "devtools";
    case CcMode::kPpcie:
      return "ppcie";
  }
  return "off";
}

// The mode a label value names; InvalidArgument naming the valid ones otherwise.
absl::StatusOr<CcMode> ParseCcMode(std::string_view text);

}  // namespace gpuop::api
