#pragma once

// Node label keys and values shared with NVIDIA's operator (reference/gpu-operator.md §2).

namespace gpuop::api {

inline constexpr char kWorkloadConfigLabel[] = "nvidia.com/gpu.workload.config";
inline constexpr char kWorkloadContainer[] = "container";
inline constexpr char kWorkloadVmPassthrough[] = "vm-passthrough";
inline constexpr char kWorkloadVmVgpu[] = "vm-vgpu";

}  // namespace gpuop::api
