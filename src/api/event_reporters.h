#pragma once

// The reportingController of the Events each component writes: what tells an admin, and the
// tests, which component spoke.
//
//   kube::EventRecorder recorder(client, api::kCcManagerReporter, pod_name);

namespace gpuop::api {

inline constexpr char kOperatorReporter[] = "gpuop.io/operator";
inline constexpr char kCcManagerReporter[] = "gpuop.io/cc-manager";
inline constexpr char kKataManagerReporter[] = "gpuop.io/kata-manager";
inline constexpr char kVfioManagerReporter[] = "gpuop.io/vfio-manager";

}  // namespace gpuop::api
