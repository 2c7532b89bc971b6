#pragma once

// The validator's vfio-pci step, as NVIDIA's sandbox validator does it (NVIDIA GPU Operator v26.7,
// COMPONENT=vfio-pci in cmd/nvidia-validator/main.go) and a little stricter: record the node's
// workload in workload-type; for vm-passthrough, check that every NVIDIA GPU is on vfio-pci (or
// nvgrace_gpu_vfio_pci), that its IOMMU group's device node exists and that no other endpoint of
// the group is still on a host driver (else a VM cannot open the group), then write vfio-pci-ready.

#include <string>

#include "absl/status/status.h"

#include "host/host_root.h"

namespace gpuop::operands {

// OK when every NVIDIA GPU under `root` is usable for passthrough; otherwise
// FailedPrecondition with a one-line reason naming the first device at fault.
absl::Status CheckGpusOnVfio(const host::HostRoot& root);

struct VfioValidationOptions {
  std::string workload;  // container | vm-passthrough | vm-vgpu
  std::string validations_dir;
};

// The whole step. InvalidArgument for a workload that is not one of the three.
absl::Status ValidateVfioPci(const host::HostRoot& root, const VfioValidationOptions& options);

}  // namespace gpuop::operands
