#pragma once

// What the cuda step's pod runs (`gpuop validator cuda-workload`): a round trip of a known byte
// pattern to every GPU's memory and back through the CUDA driver API, which proves what NVIDIA's
// vectorAdd sample proves for the validator (the runtime gave the container the GPUs and a
// libcuda that matches the kernel module, a context can be made on each GPU, and its memory can
// be written and read) without a CUDA toolkit in the image.
//
// libcuda.so.1 is the driver's own library: the NVIDIA runtime puts it into the container, and
// gpuop loads it with dlopen, so the binary has no CUDA dependency at build time and runs where
// there is no GPU (where this step says so).
//
//   absl::StatusOr<int> gpus = RunCudaWorkload({});

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace gpuop::operands {

struct CudaWorkloadOptions {
  // What dlopen loads: the soname, found where the runtime put it; a path in tests.
  std::string library = "libcuda.so.1";
  size_t bytes = size_t{1} << 20;  // Per GPU: a MiB spans many pages.
};

// How many GPUs passed. NotFound when the library cannot be loaded; FailedPrecondition when it
// lacks a function, or there is no CUDA device (cuInit's CUDA_ERROR_NO_DEVICE, or a count of 0);
// Internal naming the GPU, the call and CUDA's own words for any other CUDA error; DataLoss when
// the bytes read back differ from those written.
absl::StatusOr<int> RunCudaWorkload(const CudaWorkloadOptions& options);

}  // namespace gpuop::operands
