#pragma once

// The images of NVIDIA's container-path operands that the operator falls back to when the
// ClusterPolicy's section names none (repository, image and version all empty), as NVIDIA's
// operator falls back to an environment variable of its own pod. Here each variable has a
// default: the image NVIDIA GPU Operator v26.7's chart pins, so that a ClusterPolicy written
// without these sections (one of the sandbox path, for instance) still renders.

#include <string_view>

namespace gpuop::api {

struct FallbackImage {
  std::string_view spec_key;  // The ClusterPolicy section: "driver".
  std::string_view env;       // The operator's variable that overrides the default.
  // The default. The driver's tag, and its sidecars', get "-<os tag>" appended.
  std::string_view image;
};

inline constexpr FallbackImage kFallbackImages[] = {
    {"driver", "DRIVER_IMAGE", "nvcr.io/nvidia/driver:595.91.07"},
    {"toolkit", "CONTAINER_TOOLKIT_IMAGE", "nvcr.io/nvidia/k8s/container-toolkit:v1.20.0"},
    {"devicePlugin", "DEVICE_PLUGIN_IMAGE", "nvcr.io/nvidia/k8s-device-plugin:v0.20.0"},
    {"gfd", "GFD_IMAGE", "nvcr.io/nvidia/k8s-device-plugin:v0.20.0"},
    {"dcgm", "DCGM_IMAGE", "nvcr.io/nvidia/cloud-native/dcgm:4.6.0-1-ubuntu24.04"},
    {"dcgmExporter", "DCGM_EXPORTER_IMAGE",
     "nvcr.io/nvidia/k8s/dcgm-exporter:4.6.0-4.8.3-distroless"},
    {"migManager", "MIG_MANAGER_IMAGE", "nvcr.io/nvidia/cloud-native/k8s-mig-manager:v0.15.0"},
    {"gds", "GDS_IMAGE", "nvcr.io/nvidia/cloud-native/nvidia-fs:2.29.4"},
    {"gdrcopy", "GDRCOPY_IMAGE", "nvcr.io/nvidia/cloud-native/gdrdrv:v2.6"},
};

}  // namespace gpuop::api
