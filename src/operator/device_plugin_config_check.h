#pragma once

// Checks a device plugin config file (one key of spec.devicePlugin.config.name's ConfigMap) the
// way NVIDIA's device plugin reads it (k8s-device-plugin api/config/v1): version v1, the flags
// whose values it checks, resources, and GPU sharing by time-slicing or MPS. The operator runs it
// before it hands a config to the plugin, so that a bad one is an Event and a status condition
// rather than a plugin that fails to start on the next restart.
//
// Stricter than the plugin in two ways, on purpose, both where the plugin would start and
// silently do other than the file says: a key it does not know at the top of the file or under
// `sharing` (`timeslicing`, `shareing`) is an error here, where the plugin ignores it and does
// not share; and `sharing` holding both timeSlicing and mps is an error here, where the plugin
// (v0.17.4, Sharing.SharingStrategy) takes MPS and drops the time-slicing.
// tests/integration/operands/upstream_device_plugin_config_test.cc holds the two to this.
//
//   absl::Status checked = CheckDevicePluginConfig(text);
//   // InvalidArgument "line 6: sharing.timeSlicing.resources[0].replicas: must be 2 or more, not
//   1"

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace gpuop::op {

// What the checker learnt of a config that passed.
struct DevicePluginConfigSummary {
  std::string sharing = "none";  // "none", "time-slicing" or "mps", as GFD labels it.
  std::string mig_strategy;      // flags.migStrategy; "" when the config leaves it out.
};

absl::StatusOr<DevicePluginConfigSummary> CheckDevicePluginConfig(std::string_view yaml);

}  // namespace gpuop::op
