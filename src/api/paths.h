#pragma once

// Files on a node that are part of the contract with NVIDIA's operands and the seeds' docs:
// the validation ready-files other agents wait for (NVIDIA GPU Operator v26.7,
// cmd/nvidia-validator/main.go and the init containers of its sandbox DaemonSets).

namespace gpuop::api {

inline constexpr char kValidationsDir[] = "/run/nvidia/validations";
// "<workload>\n": container, vm-passthrough or vm-vgpu. Written first by the validator.
inline constexpr char kWorkloadTypeFile[] = "workload-type";
// Empty; present when every NVIDIA GPU of the node is on a vfio driver.
inline constexpr char kVfioPciReadyFile[] = "vfio-pci-ready";

// The container path's chain (NVIDIA GPU Operator v26.7, cmd/nvidia-validator/main.go), in the
// order the validator writes them. The driver container writes .driver-ctr-ready (YAML lines
// `GDRCOPY_ENABLED: <bool>`, `GDS_ENABLED: <bool>`, `GPU_DIRECT_RDMA_ENABLED: <bool>`) once its
// driver works; the validator's driver step then writes driver-ready, an env file of the driver's
// roots that the toolkit, the device plugin and the MIG manager source, and one file per extra
// module the driver container was asked for. The others are empty.
inline constexpr char kDriverCtrReadyFile[] = ".driver-ctr-ready";
inline constexpr char kDriverReadyFile[] = "driver-ready";
inline constexpr char kNvidiaFsReadyFile[] = "nvidia-fs-ready";
inline constexpr char kGdrcopyReadyFile[] = "gdrcopy-ready";
inline constexpr char kNvidiaPeermemReadyFile[] = "nvidia-peermem-ready";
inline constexpr char kToolkitReadyFile[] = "toolkit-ready";
inline constexpr char kCudaReadyFile[] = "cuda-ready";
inline constexpr char kPluginReadyFile[] = "plugin-ready";

// Where the driver container publishes its root on the host (NVIDIA's hostPaths.driverInstallDir
// default), and where the validator mounts it by default.
inline constexpr char kDefaultDriverInstallDir[] = "/run/nvidia/driver";

// Ours, on the host's tmpfs /run (the vfio-manager DaemonSet mounts /run/gpuop): the drivers the
// VFIO manager took devices from, so that --unbind-on-exit survives an agent restart.
inline constexpr char kVfioManagerStateFile[] = "/run/gpuop/vfio-manager/previous-drivers.json";

// Written by the kata manager after its first pass that installed every runtime class that
// applies to the node and registered their containerd handlers.
inline constexpr char kKataManagerReadyFile[] = ".kata-manager-ctr-ready";

// Written by the CC manager after its first apply (NVIDIA's name: k8s-cc-manager's
// CC_READINESS_FILE), and by the validator's cc-manager step once it has seen it.
inline constexpr char kCcManagerCtrReadyFile[] = ".cc-manager-ctr-ready";
inline constexpr char kCcManagerReadyFile[] = "cc-manager-ready";

// NVIDIA's default artifactsDir: the operator renders it when a ClusterPolicy names none, and
// the kata manager takes it when its config does; each runtime class's artifacts go below.
inline constexpr char kDefaultKataArtifactsDir[] =
    "/opt/nvidia-gpu-operator/artifacts/runtimeclasses";

// CDI's dynamic spec directory (Container Device Interface v1.1, DefaultDynamicDir; it takes
// precedence over /etc/cdi): the device plugin writes nvidia.com-pgpu.yaml there, and containerd
// and the Kata shim read it.
inline constexpr char kCdiSpecDir[] = "/var/run/cdi";

}  // namespace gpuop::api
